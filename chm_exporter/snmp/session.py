"""gufo-snmp behind the client seam (:mod:`chm_exporter.snmp.client`).

gufo-snmp does its protocol work in Rust (DESIGN.md: about 3x the varbinds per CPU-second of the
Go snmp_exporter). Three things are done here rather than by its `SnmpSession`:

- Receiving waits under ``asyncio.timeout`` with the timeout of each call: gufo-snmp's own
  receive uses ``asyncio.wait_for``, which on Python 3.11 swallows a cancellation when data is
  already waiting, and its timeout is fixed per session.
- A walk is one request per call (:meth:`GufoColumnWalk.next_batch`), not an iterator, so the
  walker checks the deadline and its budget between PDUs.
- :meth:`GufoClient.close` drops the only reference to the session and so to its Rust socket:
  the file descriptor closes at once on every path, without waiting for a garbage collection
  (callbacks and frames hold the client, never the session).

A pyo3 ``PanicException`` (a BaseException) from the Rust core becomes :class:`LibraryPanicError`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
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
T = TypeVar("T")


class CountingSession(SnmpSession):
    """A gufo-snmp session that counts the request PDUs it sends and receives with a
    cancellable timeout (``asyncio.timeout``, not ``wait_for``)."""

    pdus_sent: int = 0

    async def _send(self, sender: Callable[[], None]) -> None:
        self.pdus_sent += 1
        await super()._send(sender)

    async def _recv(self, receiver: Callable[[], T]) -> T:
        loop = asyncio.get_running_loop()
        async with asyncio.timeout(self._timeout):
            while True:
                ready: asyncio.Future[None] = loop.create_future()
                loop.add_reader(self._fd, _set_ready, ready)
                try:
                    await ready
                finally:
                    loop.remove_reader(self._fd)
                try:
                    return receiver()
                except BlockingIOError:
                    continue


def _set_ready(ready: asyncio.Future[None]) -> None:
    if not ready.done():
        ready.set_result(None)


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
        await _mapped(lambda: self._open(wait).refresh())

    def engine_id(self) -> bytes | None:
        """The discovered SNMPv3 engine id."""
        if not self._v3 or self._session is None:
            return None
        return self._session.get_engine_id()

    async def get_many(self, oids: Sequence[str], wait: float) -> dict[str, RawValue]:
        """GET several OIDs in one PDU."""
        return await _mapped(lambda: self._open(wait).get_many(oids))

    async def get(self, oid: str, wait: float) -> RawValue:
        """GET one OID."""
        return await _mapped(lambda: self._open(wait).get(oid))

    def walk(self, column: str, max_repetitions: int) -> GufoColumnWalk:
        """Start a GETBULK (GETNEXT when `max_repetitions` is 0) walk of `column`."""
        return GufoColumnWalk(self, column, max_repetitions)

    def close(self) -> None:
        """Drop the session: its Rust socket and file descriptor go at once."""
        if self._session is not None:
            self._closed_pdus = self._session.pdus_sent
            self._session = None


class GufoColumnWalk:
    """One column walk on a :class:`GufoClient`, one request per :meth:`next_batch`."""

    def __init__(self, client: GufoClient, column: str, max_repetitions: int) -> None:
        self._client = client
        self._bulk = max_repetitions > 0
        self._ctx = GetIter(column, max_repetitions) if self._bulk else GetIter(column)

    async def next_batch(self, wait: float) -> tuple[Varbinds, bool]:
        """One GETBULK (or GETNEXT): the rows it brought, and whether the column goes on."""
        return await _mapped(lambda: self._next(wait))

    async def _next(self, wait: float) -> tuple[Varbinds, bool]:
        session = self._client._open(wait)
        sock = session._sock
        ctx = self._ctx
        if not self._bulk:
            await session._send(lambda: sock.send_get_next(ctx))
            try:
                row = await session._recv(lambda: sock.recv_get_next(ctx))
            except (StopAsyncIteration, NoSuchInstance):
                return [], False
            return [row], True
        await session._send(lambda: sock.send_get_bulk(ctx))
        try:
            batch = await session._recv(lambda: sock.recv_get_bulk(ctx))
        except StopAsyncIteration:  # the end of the agent's MIB view
            return [], False
        rows: Varbinds = []
        for item in batch:
            if item is None:
                return rows, False
            rows.append(item)
        return rows, bool(rows)


async def _mapped(call: Callable[[], Awaitable[T]]) -> T:
    """Run a gufo-snmp call, its errors mapped onto the seam's.

    The mapped error is raised outside the ``except`` block, so it does not carry the library's
    exception as its context: that one's traceback holds the session's frames, and with them
    the socket, until a garbage collection.
    """
    try:
        return await call()
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
