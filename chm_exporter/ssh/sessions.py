"""Persistent SSH sessions: one per device and credential, reused across scrapes.

Each device has a :class:`DeviceSession` holding at most one logged-in scrapli driver and a lock,
so one command stream runs per device at a time. The device records live in the exporter's
per-device cache (chm_exporter.devicecache, made by :meth:`SessionPool.new_device`): bounded and
expiring as every device state, and a record the cache drops closes its session (``evicted``).
The pool owns what is shared: the open sessions, their number, the host keys.

A session that fails (timeout, disconnect, a cancelled command in mid-output) is closed and the
next scrape logs in again. Sessions unused for `idle_close` seconds are closed by a sweeper. At
most `max_sessions` are open at once; a probe that needs another first closes the least
recently used idle one, else waits (counted).

scrapli, asyncssh (and TextFSM, chm_exporter.ssh.parse) are imported on the first SSH login, not
with this module: together they are ~17 MiB of memory per process, which an exporter whose
modules never use SSH does not pay.

A wrong password or a refused host key fails the probe at once: there is no retry within the
probe, so a bad credential costs one login attempt per scrape, never a storm.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from chm_exporter.errors import SshProbeError
from chm_exporter.selfmetrics import SshMetrics
from chm_exporter.ssh.config import DEFAULT_TOFU_FILE, SshAuth, SshSettings
from chm_exporter.ssh.logs import LogState
from chm_exporter.ssh.logshare import shared_state
from chm_exporter.ssh.profile import CliProfile

if TYPE_CHECKING:  # imported on first use (see the module's docstring)
    from asyncssh import SSHKey
    from scrapli.driver import AsyncNetworkDriver

    from chm_exporter.ssh.driver import OutputCap
    from chm_exporter.ssh.hostkeys import HostKeys

DEFAULT_MAX_SESSIONS = 1000
_log = logging.getLogger(__name__)
_SWEEP_SECONDS = 5.0


@dataclass(frozen=True, slots=True)
class SessionKey:
    """What identifies one session: where, who, which platform."""

    host: str
    port: int
    username: str
    platform: str


@dataclass(eq=False)
class DeviceSession:
    """One device's session, its lock, and what the SSH prober remembers about the device."""

    key: SessionKey
    pool: SessionPool
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    driver: AsyncNetworkDriver | None = None
    last_used: float = field(default_factory=time.monotonic)
    idle_close: float = 600.0
    memory: dict[str, Any] = field(default_factory=dict)  # e.g. the log watermark
    cap: OutputCap | None = None
    retired: bool = False  # dropped by the device cache: close the session after its use

    #: the device cache's TTL counts from the last scrape: a device scraped every minute keeps
    #: its session and its log watermark
    expires_when_idle: ClassVar[bool] = True

    @property
    def is_open(self) -> bool:
        """Whether a logged-in driver is held (it may still have died since)."""
        return self.driver is not None

    def evicted(self) -> None:
        """The device cache dropped this record: close its session (after the probe using it,
        if one is)."""
        self.retired = True
        if not self.lock.locked():
            self.pool.close_session(self)


class SessionPool:
    """Every open SSH session of the exporter."""

    def __init__(
        self,
        metrics: SshMetrics,
        max_sessions: int = DEFAULT_MAX_SESSIONS,
        state_dir: Path | None = None,
        workers_dir: Path | None = None,
    ) -> None:
        """Args:
        metrics: the sessions' self-metrics.
        max_sessions: sessions open at most.
        state_dir: where the host keys pinned on first use are kept (beside the config).
        workers_dir: with ``--web.workers``, their private directory: the log watermarks live
            there, shared (chm_exporter.ssh.logshare).
        """
        self.metrics = metrics
        self.max_sessions = max_sessions
        self.state_dir = state_dir or Path.cwd()
        self.workers_dir = workers_dir
        self._host_keys: HostKeys | None = None
        self._sessions: dict[DeviceSession, None] = {}  # holding a driver, oldest login first
        self._open = 0
        self._waiting = 0
        self._slot_freed = asyncio.Condition()
        self._sweeper: asyncio.Task[None] | None = None
        self._keys: dict[tuple[str, int, str | None], SSHKey] = {}
        self._notifying: set[asyncio.Task[None]] = set()

    def new_device(self, key: SessionKey) -> DeviceSession:
        """A record for the device `key`, without a session yet (kept in the device cache)."""
        return DeviceSession(key, self)

    @property
    def host_keys(self) -> HostKeys:
        """The exporter's host-key checking (made on the first login)."""
        if self._host_keys is None:
            from chm_exporter.ssh.hostkeys import HostKeys  # asyncssh: on first use

            self._host_keys = HostKeys()
        return self._host_keys

    @contextlib.contextmanager
    def log_state(self, entry: DeviceSession) -> Iterator[LogState]:
        """The device's log watermark for one scrape: in its record, or with workers in the file
        they share (locked for the block; in the record when the file cannot be used)."""
        with contextlib.ExitStack() as stack:
            state = entry.memory.setdefault("logs", LogState())
            if self.workers_dir is not None:
                key = entry.key
                try:
                    state = stack.enter_context(
                        shared_state(
                            self.workers_dir, key.host, str(key.port), key.username, key.platform
                        )
                    )
                except OSError as exc:
                    _log.error("ssh: log state of %s not shared between workers: %s", key, exc)
            yield state

    def close_session(self, entry: DeviceSession) -> None:
        """Close `entry`'s session now, if it holds one (not while a probe uses it)."""
        if entry.driver is not None:
            self._close_driver(entry)
            self._notify_soon()

    @contextlib.asynccontextmanager
    async def session(
        self, entry: DeviceSession, settings: SshSettings, auth: SshAuth, profile: CliProfile
    ) -> AsyncIterator[tuple[AsyncNetworkDriver, bool]]:
        """Hold the device's command stream: yields (driver, reused).

        A failure (or a cancellation) inside the block closes the session, so the next scrape
        logs in again.

        Raises:
            SshProbeError: login failed, with the reason.
        """
        from chm_exporter.ssh.driver import OutputCap  # scrapli: on first use (see above)

        async with entry.lock:
            entry.idle_close = settings.idle_close
            reused = entry.driver is not None and bool(entry.driver.isalive())
            if entry.driver is not None and not reused:
                self._close_driver(entry)
            if not reused:
                await self._take_slot()
                try:
                    entry.driver = await self._login(entry.key, settings, auth, profile)
                except BaseException:
                    await self._free_slot()
                    raise
                self._sessions[entry] = None
                entry.cap = OutputCap(entry.driver, settings.max_output_bytes)
                self.metrics.logins.inc()
            else:
                self.metrics.reuses.inc()
            assert entry.driver is not None
            if entry.cap is not None:
                entry.cap.limit = settings.max_output_bytes
            try:
                yield entry.driver, reused
            except BaseException as exc:
                if isinstance(exc, SshProbeError):
                    self.metrics.failures.labels(exc.reason).inc()
                self._close_driver(entry)
                await self._notify()
                raise
            finally:
                entry.last_used = time.monotonic()
            if not settings.reuse or entry.retired:
                self._close_driver(entry)
        if self._waiting or not settings.reuse or entry.retired:
            await self._notify()  # this session is idle now: a waiter may take its slot
        self._ensure_sweeper()

    async def _login(
        self, key: SessionKey, settings: SshSettings, auth: SshAuth, profile: CliProfile
    ) -> AsyncNetworkDriver:
        from asyncssh import Error as AsyncsshError  # on first use (see the module's docstring)
        from asyncssh import KeyImportError
        from scrapli.exceptions import ScrapliException

        from chm_exporter.ssh.driver import failure_reason, new_driver

        known = settings.known_hosts_file or self.state_dir / DEFAULT_TOFU_FILE
        options: dict[str, Any] = self.host_keys.connect_options(
            settings.host_key, known, key.host, key.port
        )
        if settings.keepalive_interval:
            options["keepalive_interval"] = settings.keepalive_interval
        if auth.private_key_file is not None:
            options["client_keys"] = [await self._private_key(auth)]
        else:
            options["preferred_auth"] = ("keyboard-interactive", "password")

        driver = new_driver(key.host, key.port, settings, auth, profile, options)
        try:
            await driver.open()
        except (ScrapliException, AsyncsshError, OSError, EOFError, KeyImportError) as exc:
            reason, message = failure_reason(exc)
            if reason == "host_key":
                message += f" (host_key: {settings.host_key}, file {known})"
            self.metrics.failures.labels(reason).inc()
            with contextlib.suppress(Exception):
                await driver.close()
            raise SshProbeError(message, reason) from exc
        except BaseException:
            with contextlib.suppress(Exception):
                await driver.close()
            raise
        self.metrics.open.inc()
        return driver

    async def _private_key(self, auth: SshAuth) -> SSHKey:
        """The auth's private key, read and decrypted once per file version: decrypting an
        OpenSSH key runs bcrypt's KDF (about a second of CPU), so it runs once, in a thread."""
        from asyncssh import KeyImportError, read_private_key  # on first use

        assert auth.private_key_file is not None
        path = auth.private_key_file
        passphrase = auth.passphrase.get_secret_value() if auth.passphrase else None
        try:
            version = path.stat().st_mtime_ns
        except OSError as exc:
            self.metrics.failures.labels("auth").inc()
            raise SshProbeError(
                f"cannot read the private key {path}: {exc.strerror}", "auth"
            ) from exc
        cache_key = (str(path), version, passphrase)
        key = self._keys.get(cache_key)
        if key is None:
            try:
                key = await asyncio.to_thread(read_private_key, str(path), passphrase)
            except (KeyImportError, OSError) as exc:
                self.metrics.failures.labels("auth").inc()
                raise SshProbeError(f"cannot read the private key {path}: {exc}", "auth") from exc
            self._keys[cache_key] = key
        return key

    def _close_driver(self, entry: DeviceSession) -> None:
        driver, entry.driver = entry.driver, None
        self._sessions.pop(entry, None)
        if driver is None:
            return
        with contextlib.suppress(Exception):
            driver.transport.close()
        self._open -= 1
        self.metrics.open.dec()

    async def _take_slot(self) -> None:
        if self._open < self.max_sessions:
            self._open += 1
            return
        if self._evict_idle():
            self._open += 1
            return
        self.metrics.waits.inc()
        started = time.monotonic()
        self._waiting += 1
        try:
            async with self._slot_freed:
                while self._open >= self.max_sessions and not self._evict_idle():
                    await self._slot_freed.wait()
                self._open += 1
        finally:
            self._waiting -= 1
            self.metrics.wait_seconds.inc(time.monotonic() - started)

    async def _free_slot(self) -> None:
        self._open -= 1
        await self._notify()

    async def _notify(self) -> None:
        async with self._slot_freed:
            self._slot_freed.notify()

    def _notify_soon(self) -> None:
        """Wake a probe waiting for a slot, from code that cannot await."""
        if not self._waiting:
            return
        task = asyncio.get_running_loop().create_task(self._notify())
        self._notifying.add(task)
        task.add_done_callback(self._notifying.discard)

    def _evict_idle(self) -> bool:
        """Close the least recently used open session nobody is using; False if none."""
        idle = [e for e in self._sessions if not e.lock.locked()]
        if not idle:
            return False
        victim = min(idle, key=lambda e: e.last_used)
        self._close_driver(victim)
        self.metrics.closed_idle.inc()
        return True

    def _ensure_sweeper(self) -> None:
        if self._sweeper is None or self._sweeper.done():
            self._sweeper = asyncio.get_running_loop().create_task(self._sweep())

    async def _sweep(self) -> None:
        while self._sessions:
            await asyncio.sleep(_SWEEP_SECONDS)
            self.close_idle()

    def close_idle(self, now: float | None = None) -> int:
        """Close sessions unused longer than their idle_close; returns how many."""
        now = time.monotonic() if now is None else now
        closed = 0
        for entry in list(self._sessions):
            if not entry.lock.locked() and now - entry.last_used > entry.idle_close:
                self._close_driver(entry)
                self.metrics.closed_idle.inc()
                closed += 1
        return closed

    async def close(self) -> None:
        """Close every session (application shutdown)."""
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
        for entry in list(self._sessions):
            self._close_driver(entry)

    @property
    def open_sessions(self) -> int:
        """Sessions open now."""
        return self._open
