"""Host-key policies: a known_hosts file, trust on first use pinned in a state file, or off.

The check runs inside asyncssh's key exchange (``validate_host_public_key``), before any
password is sent, so a changed key never receives the credentials.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncssh

from chm_exporter.atomicfile import write_atomically
from chm_exporter.ssh.config import HostKeyPolicy

_log = logging.getLogger(__name__)


class TofuStore:
    """Host keys pinned on first use, in a known_hosts-format file (``[host]:port key``).

    With ``--web.workers`` every worker has a store on the same file: a host new to this worker
    is looked up in the file again (another worker may have pinned it) under an exclusive lock
    (``flock`` on ``<file>.lock``), and the pins are merged, not overwritten, when saved. So the
    first key any worker saw is the one every worker accepts.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._pins: dict[str, str] | None = None
        self._save_failed = False

    def _read(self) -> dict[str, str]:
        pins = {}
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            text = ""
        for line in text.splitlines():
            parts = line.split()
            if len(parts) >= 3 and not line.startswith("#"):
                pins[parts[0]] = f"{parts[1]} {parts[2]}"
        return pins

    def _load(self) -> dict[str, str]:
        if self._pins is None:
            self._pins = self._read()
        return self._pins

    def check(self, host: str, port: int, key: asyncssh.SSHKey) -> bool:
        """True when `key` is the pinned key of host:port, or none was pinned (then it is)."""
        name = f"[{host}]:{port}"
        offered = key.export_public_key().decode().split()
        offered_text = f"{offered[0]} {offered[1]}"
        with self._lock:
            pins = self._load()
            pinned = pins.get(name)
            if pinned is None:
                with self._file_locked():
                    pins.update(self._read())  # pinned by another worker meanwhile?
                    pinned = pins.get(name)
                    if pinned is None:
                        pins[name] = offered_text
                        self._save(pins)
                        _log.info(
                            "ssh: pinned the host key of %s (%s) on first use", name, offered[0]
                        )
                        return True
            return pinned == offered_text

    @contextlib.contextmanager
    def _file_locked(self) -> Iterator[None]:
        """Hold ``<file>.lock`` exclusively (without it when it cannot be opened)."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            handle = open(self.path.with_name(self.path.name + ".lock"), "a")  # noqa: SIM115
        except OSError:
            yield
            return
        with handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            yield

    def _save(self, pins: dict[str, str]) -> None:
        body = "".join(f"{name} {key}\n" for name, key in sorted(pins.items()))
        try:
            write_atomically(self.path, body, mode=0o600)
        except OSError as exc:
            if not self._save_failed:
                _log.error("ssh: cannot save pinned host keys to %s: %s", self.path, exc)
                self._save_failed = True


class HostKeys:
    """The exporter's host-key checking, shared by every session."""

    def __init__(self) -> None:
        self._tofu: dict[Path, TofuStore] = {}
        self._warned: set[tuple[str, int]] = set()

    def connect_options(
        self, policy: HostKeyPolicy, file: Path | None, host: str, port: int
    ) -> dict[str, Any]:
        """asyncssh connect() options for `policy`: known_hosts and a client factory."""
        if policy == "known_hosts":
            assert file is not None  # the config refuses known_hosts without a file
            return {"known_hosts": str(file)}
        if policy == "off":
            if (host, port) not in self._warned:
                self._warned.add((host, port))
                _log.warning("ssh: host key checking is off for %s:%d", host, port)
            return {"known_hosts": None}
        store = self._tofu.setdefault(file, TofuStore(file)) if file else None
        if store is None:
            raise ValueError("tofu needs a state file")
        return {
            "known_hosts": asyncssh.import_known_hosts(""),
            "client_factory": lambda: _TofuClient(store, host, port),
        }


class _TofuClient(asyncssh.SSHClient):
    def __init__(self, store: TofuStore, host: str, port: int) -> None:
        self._store = store
        self._host = host
        self._port = port

    def validate_host_public_key(
        self, host: str, addr: str, port: int, key: asyncssh.SSHKey
    ) -> bool:
        return self._store.check(self._host, self._port, key)
