"""gufo-snmp behind the client seam (:mod:`chm_exporter.snmp.client`).

gufo-snmp does its protocol work in Rust (DESIGN.md: about 3x the varbinds per CPU-second of the
Go snmp_exporter). Three things are done here rather than by its `SnmpSession`:

- Receiving: the socket's reader is registered once per client, not per request, and each
  request waits under a timer of its own timeout (:class:`CountingSession`). gufo-snmp's own
  receive registers the reader per request and waits with ``asyncio.wait_for``, which on
  Python 3.11 swallows a cancellation when data is already waiting, with a timeout fixed per
  session.
- A walk is one request per call (:meth:`GufoColumnWalk.next_batch`), not an iterator, so the
  walker checks the deadline and its budget between PDUs.
- :meth:`GufoClient.close` removes the reader and drops the only reference to the session and
  so to its Rust socket: the file descriptor closes at once on every path, without waiting for
  a garbage collection (the reader holds the session until then; frames hold the client).

A pyo3 ``PanicException`` (a BaseException) from the Rust core becomes :class:`LibraryPanicError`.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable, Sequence
from functools import partial
from typing import Any, TypeVar

from gufo.snmp import NoSuchInstance, SnmpAuthError, SnmpDecodeError, SnmpError, SnmpVersion
from gufo.snmp._fast import GetIter
from gufo.snmp.aio import SnmpSession
from gufo.snmp.user import (
    Aes128Key,
    Aes192Key,
    Aes256Key,
    BaseAuthKey,
    BasePrivKey,
    DesKey,
    KeyExpansion,
    Md5Key,
    Sha1Key,
    Sha224Key,
    Sha256Key,
    Sha384Key,
    Sha512Key,
    User,
)

from chm_exporter.snmp.client import (
    AgentError,
    AuthFailedError,
    Credentials,
    LibraryPanicError,
    NoSuchNameError,
    RefusedError,
    UndecodableError,
    UsmCredentials,
    Varbinds,
)
from chm_exporter.walk import RawValue

_AUTH_KEYS: dict[str, type[BaseAuthKey]] = {
    "MD5": Md5Key,
    "SHA": Sha1Key,
    "SHA224": Sha224Key,
    "SHA256": Sha256Key,
    "SHA384": Sha384Key,
    "SHA512": Sha512Key,
}
_PRIV_KEYS: dict[str, type[BasePrivKey]] = {
    "DES": DesKey,
    "AES": Aes128Key,
    "AES192": Aes192Key,
    "AES256": Aes256Key,
}
# One socket serves one walk at a time; the buffer holds the largest UDP datagram plus replies
# that arrive after their request timed out.
RECV_BUFFER_BYTES = 256 * 1024
# gufo-snmp reports an ICMP port unreachable as a TimeoutError with this text.
_REFUSED_TEXT = "connection refused"
# Datagrams nobody waits for, read and dropped per wake-up (a flood waits for the next one).
_DROP_AT_ONCE = 64
_DROP_READ_BYTES = 65536
T = TypeVar("T")


class CountingSession(SnmpSession):
    """A gufo-snmp session that counts the request PDUs it sends and receives through one
    reader registration for its lifetime.

    gufo-snmp's own receive adds and removes the socket's reader and arms ``wait_for`` per
    request (two ``epoll_ctl`` calls, a selector key and a task per PDU, and ``wait_for``
    swallows a cancellation on Python 3.11). Here the reader is added at the first request and
    removed by :meth:`release`; it hands each datagram to the request waiting for it, whose
    timer (``call_at``) fails it with a TimeoutError. A datagram nobody waits for (a reply that
    came after its request timed out) is read and dropped at once, so the level-triggered
    reader never spins.
    """

    pdus_sent: int = 0
    _loop: asyncio.AbstractEventLoop | None = None
    _waiting: tuple[Callable[[], Any], asyncio.Future[Any]] | None = None

    async def _send(self, sender: Callable[[], None]) -> None:
        self.pdus_sent += 1
        try:
            sender()  # a UDP socket's send buffer is almost never full
        except BlockingIOError:
            await super()._send(sender)

    async def _recv(self, receiver: Callable[[], T]) -> T:
        loop = self._loop
        if loop is None:
            loop = self._loop = asyncio.get_running_loop()
            loop.add_reader(self._fd, self._readable)
        waiter: asyncio.Future[T] = loop.create_future()
        self._waiting = (receiver, waiter)
        timer = loop.call_at(loop.time() + self._timeout, _expire, waiter)
        try:
            return await waiter
        finally:
            timer.cancel()
            self._waiting = None
            del waiter  # the error's traceback holds this frame: no cycle through the future

    def _readable(self) -> None:
        waiting = self._waiting
        if waiting is None or waiting[1].done():
            self._drop_datagrams()
            return
        receiver, waiter = waiting
        try:
            result = receiver()
        except BlockingIOError:  # not the reply awaited (gufo-snmp dropped it): wait on
            return
        except BaseException as exc:  # a pyo3 PanicException is a BaseException
            # without this frame (and so the session) in its traceback: the socket closes
            # when the client does, not at a garbage collection
            waiter.set_exception(exc.with_traceback(None))
            return
        waiter.set_result(result)

    def _drop_datagrams(self) -> None:
        for _ in range(_DROP_AT_ONCE):
            try:
                os.read(self._fd, _DROP_READ_BYTES)
            except BlockingIOError:
                return
            except OSError:  # e.g. a queued ICMP port unreachable: read, and so cleared
                continue

    def release(self) -> None:
        """Remove the socket's reader (before the socket closes). Idempotent."""
        loop, self._loop = self._loop, None
        if loop is not None and not loop.is_closed():
            loop.remove_reader(self._fd)


def _expire(waiter: asyncio.Future[Any]) -> None:
    if not waiter.done():
        waiter.set_exception(TimeoutError())


def usm_user(auth: UsmCredentials) -> User:
    """The gufo-snmp user for a v3 auth (keys from passwords, localized per engine)."""
    auth_key = priv_key = None
    if auth.security_level != "noAuthNoPriv" and auth.auth_password is not None:
        auth_key = _AUTH_KEYS[auth.auth_protocol](auth.auth_password.get_secret_value().encode())
    if auth.security_level == "authPriv" and auth.priv_password is not None:
        priv_key = _PRIV_KEYS[auth.priv_protocol](auth.priv_password.get_secret_value().encode())
    expansion = (
        KeyExpansion.Cisco if auth.priv_key_expansion == "cisco" else KeyExpansion.Blumenthal
    )
    return User(auth.username, auth_key=auth_key, priv_key=priv_key, key_expansion=expansion)


def session_kwargs(auth: Credentials) -> dict[str, Any]:
    """The credential arguments of :class:`SnmpSession` for an auth."""
    if auth.version == "3":
        return {"user": usm_user(auth), "version": SnmpVersion.v3}
    version = SnmpVersion.v1 if auth.version == "1" else SnmpVersion.v2c
    return {"community": auth.community.get_secret_value(), "version": version}


def open_session(
    addr: str,
    port: int,
    auth: Credentials,
    timeout: float,
    max_repetitions: int,
    engine_id: bytes | None = None,
) -> CountingSession:
    """A new session (its own UDP socket) to one agent."""
    kwargs = session_kwargs(auth)
    if engine_id is not None and "user" in kwargs:
        kwargs["engine_id"] = engine_id
    return CountingSession(
        addr=addr,
        port=port,
        timeout=timeout,
        max_repetitions=max_repetitions,
        recv_buffer=RECV_BUFFER_BYTES,
        **kwargs,
    )


class GufoClient:
    """:class:`~chm_exporter.snmp.client.SnmpClient` on a gufo-snmp session."""

    def __init__(
        self,
        addr: str,
        port: int,
        auth: Credentials,
        max_repetitions: int,
        engine_id: bytes | None = None,
    ) -> None:
        self._v3 = auth.version == "3"
        self._session: CountingSession | None = open_session(
            addr, port, auth, 1.0, max_repetitions, engine_id
        )
        self._closed_pdus = 0

    @property
    def pdus_sent(self) -> int:
        """Request PDUs sent so far."""
        return self._session.pdus_sent if self._session is not None else self._closed_pdus

    def _open(self, wait: float) -> CountingSession:
        if self._session is None:
            raise AgentError("the client is closed")
        self._session._timeout = wait
        return self._session

    async def discover(self, wait: float) -> None:
        """SNMPv3 engine discovery (no-op for v1/v2c)."""
        await _mapped(self._open(wait).refresh())

    def engine_id(self) -> bytes | None:
        """The discovered SNMPv3 engine id."""
        if not self._v3 or self._session is None:
            return None
        return self._session.get_engine_id()

    async def get_many(self, oids: Sequence[str], wait: float) -> dict[str, RawValue]:
        """GET several OIDs in one PDU."""
        return await _mapped(self._open(wait).get_many(oids))

    async def get(self, oid: str, wait: float) -> RawValue:
        """GET one OID."""
        return await _mapped(self._open(wait).get(oid))

    def walk(self, column: str, max_repetitions: int) -> GufoColumnWalk:
        """Start a GETBULK (GETNEXT when `max_repetitions` is 0) walk of `column`."""
        return GufoColumnWalk(self, column, max_repetitions)

    def close(self) -> None:
        """Drop the session: its Rust socket and file descriptor go at once."""
        if self._session is not None:
            self._closed_pdus = self._session.pdus_sent
            self._session.release()
            self._session = None


class GufoColumnWalk:
    """One column walk on a :class:`GufoClient`, one request per :meth:`next_batch`.

    It holds the client, never the socket: a traceback that keeps the walk alive must not keep
    the socket open after the client closed.
    """

    def __init__(self, client: GufoClient, column: str, max_repetitions: int) -> None:
        self._client = client
        self._bulk = max_repetitions > 0
        self._ctx = GetIter(column, max_repetitions) if self._bulk else GetIter(column)

    async def next_batch(self, wait: float) -> tuple[Varbinds, bool]:
        """One GETBULK (or GETNEXT): the rows it brought, and whether the column goes on."""
        return await _mapped(self._next(wait))

    async def _next(self, wait: float) -> tuple[Varbinds, bool]:
        session = self._client._open(wait)
        sock = session._sock
        ctx = self._ctx
        if not self._bulk:
            await session._send(partial(sock.send_get_next, ctx))
            try:
                row = await session._recv(partial(sock.recv_get_next, ctx))
            except (StopAsyncIteration, NoSuchInstance):
                return [], False
            return [row], True
        await session._send(partial(sock.send_get_bulk, ctx))
        try:
            batch = await session._recv(partial(sock.recv_get_bulk, ctx))
        except StopAsyncIteration:  # the end of the agent's MIB view
            return [], False
        rows: Varbinds = []
        for item in batch:
            if item is None:
                return rows, False
            rows.append(item)
        return rows, bool(rows)


async def _mapped(call: Awaitable[T]) -> T:
    """Await a gufo-snmp call, its errors mapped onto the seam's.

    The mapped error is raised outside the ``except`` block, so it does not carry the library's
    exception as its context: that one's traceback holds the session's frames, and with them
    the socket, until a garbage collection.
    """
    try:
        return await call
    except (asyncio.CancelledError, KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:  # a pyo3 PanicException is a BaseException
        mapped = _seam_error(exc)
        if mapped is None:
            raise
    raise mapped


def _seam_error(exc: BaseException) -> BaseException | None:
    """The seam's error for a gufo-snmp error (None: not one; let it through)."""
    if isinstance(exc, ConnectionRefusedError) or (
        isinstance(exc, TimeoutError) and str(exc) == _REFUSED_TEXT
    ):
        return RefusedError(_REFUSED_TEXT)
    if isinstance(exc, TimeoutError):
        return TimeoutError()
    if isinstance(exc, NoSuchInstance):
        return NoSuchNameError()
    if isinstance(exc, SnmpAuthError):
        return AuthFailedError(str(exc))
    if isinstance(exc, SnmpDecodeError):
        return UndecodableError(str(exc))
    if isinstance(exc, SnmpError | OSError):
        return AgentError(f"{type(exc).__name__}: {exc}")
    if type(exc).__name__ == "PanicException":
        return LibraryPanicError(str(exc))
    return None
