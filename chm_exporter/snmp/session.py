"""gufo-snmp behind the client seam (:mod:`chm_exporter.snmp.client`).

gufo-snmp does its protocol work in Rust (DESIGN.md: about 3x the varbinds per CPU-second of the
Go snmp_exporter). Three things are done here rather than by its `SnmpSession`:

- Receiving: the socket's reader is registered once per client, not per request, and each
  request waits under a timer of its own timeout (:class:`CountingSession`). gufo-snmp's own
  receive registers the reader per request and waits with ``asyncio.wait_for``, which on
  Python 3.11 swallows a cancellation when data is already waiting, with a timeout fixed per
  session.
- A column walk (:meth:`GufoColumnWalk.run`) is driven from the reader's callback: each reply
  goes to the walker's taker (its budget) and the next request, after asking the walker for
  its timeout (its deadline), is sent from there, without waking a task per PDU. Between PDUs
  the walker can stop the walk; no cancellation has to reach the library.
- :meth:`GufoClient.close` removes the reader and drops the only reference to the session and
  so to its Rust socket: the file descriptor closes at once on every path, without waiting for
  a garbage collection (the reader holds the session until then; the walker drops the
  tracebacks that hold the frames of a failed walk).

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
_NEVER = float("inf")
T = TypeVar("T")
R = TypeVar("R")


class CountingSession(SnmpSession):
    """A gufo-snmp session that counts the request PDUs it sends, receives through one reader
    registration for its lifetime, and walks a column from that reader's callback.

    gufo-snmp's own receive adds and removes the socket's reader and arms ``wait_for`` per
    request (two ``epoll_ctl`` calls, a selector key and a task per PDU, and ``wait_for``
    swallows a cancellation on Python 3.11). Here the reader is added at the first request and
    removed by :meth:`release`. It runs the waiting request's step on each datagram: a single
    request resolves its future with the reply; a walk (:meth:`walk`) hands the reply to its
    taker and sends the next request right there, so a column's PDUs cost no task wake-up and
    no event-loop round trip each. Each request waits at most its timeout: its expiry (event-loop
    time) is recorded, and one lazy timer per session fails the wait with a TimeoutError when
    it fires past the waiting request's expiry, or re-arms itself for the rest when a later
    request has a later expiry (a timer per PDU cost a heap push and a cancelled handle each).
    A datagram nobody waits for (a reply that came after its request timed out) is read and
    dropped at once, so the level-triggered reader never spins.
    """

    pdus_sent: int = 0
    _loop: asyncio.AbstractEventLoop | None = None
    _waiter: asyncio.Future[Any] | None = None
    _step: Callable[[], None] | None = None
    _timer: asyncio.TimerHandle | None = None
    _expiry: float = _NEVER  # when the waiting request times out (event-loop time)

    async def _send(self, sender: Callable[[], None]) -> None:
        self.pdus_sent += 1
        try:
            sender()  # a UDP socket's send buffer is almost never full
        except BlockingIOError:
            await super()._send(sender)

    async def _recv(self, receiver: Callable[[], T]) -> T:
        loop = self._listen()
        waiter: asyncio.Future[T] = loop.create_future()
        self._wait(waiter, partial(_resolve, waiter, receiver))
        self._arm(loop, waiter, self._timeout)
        try:
            return await waiter
        finally:
            self._idle()
            del waiter  # the error's traceback holds this frame: no cycle through the future

    async def walk(
        self,
        send: Callable[[], None],
        receive: Callable[[], R],
        take: Callable[[R], bool],
        wait: Callable[[], float],
    ) -> None:
        """Send requests one after another, the next as soon as `take` took the last reply.

        `wait()` gives each request's timeout before it is sent (raising ends the walk);
        `take(reply)` returns False to end it. Errors of either, of the library's receive, and
        a TimeoutError when a reply does not come in time, are raised here.
        """
        loop = self._listen()
        while True:  # once per walk, unless a send would block (then once more per such send)
            waiter: asyncio.Future[bool] = loop.create_future()
            self._wait(waiter, partial(self._walk_step, loop, waiter, send, receive, take, wait))
            try:
                timeout = wait()
                await self._send(send)
                self._arm(loop, waiter, timeout)
                if not await waiter:
                    return
            finally:
                self._idle()
                del waiter  # as in _recv

    def _walk_step(
        self,
        loop: asyncio.AbstractEventLoop,
        waiter: asyncio.Future[bool],
        send: Callable[[], None],
        receive: Callable[[], R],
        take: Callable[[R], bool],
        wait: Callable[[], float],
    ) -> None:
        reply = receive()  # BlockingIOError: not this request's reply, gufo-snmp dropped it
        self._disarm()
        if not take(reply):
            waiter.set_result(False)
            return
        timeout = wait()
        self.pdus_sent += 1
        try:
            send()
        except BlockingIOError:  # the socket's buffer is full: the walk's task sends it
            self.pdus_sent -= 1
            waiter.set_result(True)
            return
        self._arm(loop, waiter, timeout)

    def _listen(self) -> asyncio.AbstractEventLoop:
        loop = self._loop
        if loop is None:
            loop = self._loop = asyncio.get_running_loop()
            loop.add_reader(self._fd, self._readable)
        return loop

    def _wait(self, waiter: asyncio.Future[Any], step: Callable[[], None]) -> None:
        self._waiter = waiter
        self._step = step

    def _arm(self, loop: asyncio.AbstractEventLoop, waiter: asyncio.Future[Any], t: float) -> None:
        """The waiting request times out `t` seconds from now (`waiter` is ``self._waiter``)."""
        expiry = self._expiry = loop.time() + t
        timer = self._timer
        if timer is None:
            self._timer = loop.call_at(expiry, self._expire)
        elif timer.when() > expiry:  # it would fire too late for this request (a shorter timeout)
            timer.cancel()
            self._timer = loop.call_at(expiry, self._expire)
        # else it fires first (or on time) and re-arms itself for the rest

    def _disarm(self) -> None:
        """No request waits any more: the timer, when it fires, finds nothing to fail."""
        self._expiry = _NEVER

    def _expire(self) -> None:
        self._timer = None
        waiter, expiry = self._waiter, self._expiry
        if waiter is None or expiry == _NEVER or waiter.done():
            return
        loop = self._loop
        if loop is not None and expiry > loop.time():  # armed for an earlier request
            self._timer = loop.call_at(expiry, self._expire)
            return
        self._expiry = _NEVER
        waiter.set_exception(TimeoutError())

    def _idle(self) -> None:
        self._disarm()
        self._waiter = self._step = None

    def _readable(self) -> None:
        waiter, step = self._waiter, self._step
        if waiter is None or step is None or waiter.done():
            self._drop_datagrams()
            return
        try:
            step()
        except BlockingIOError:  # not the reply awaited (gufo-snmp dropped it): wait on
            return
        except BaseException as exc:  # a pyo3 PanicException is a BaseException
            # without this frame (and so the session) in its traceback: the socket closes
            # when the client does, not at a garbage collection
            self._disarm()
            if not waiter.done():
                waiter.set_exception(exc.with_traceback(None))

    def _drop_datagrams(self) -> None:
        for _ in range(_DROP_AT_ONCE):
            try:
                os.read(self._fd, _DROP_READ_BYTES)
            except BlockingIOError:
                return
            except OSError:  # e.g. a queued ICMP port unreachable: read, and so cleared
                continue

    def release(self) -> None:
        """Remove the socket's reader and the timer (before the socket closes). Idempotent."""
        self._expiry = _NEVER
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        loop, self._loop = self._loop, None
        if loop is not None and not loop.is_closed():
            loop.remove_reader(self._fd)


def _resolve(waiter: asyncio.Future[T], receiver: Callable[[], T]) -> None:
    waiter.set_result(receiver())


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

    def _open(self, wait: float | None = None) -> CountingSession:
        """The session, its single requests' timeout set to `wait` (when given)."""
        if self._session is None:
            raise AgentError("the client is closed")
        if wait is not None:
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
    """One column walk on a :class:`GufoClient`, driven from the socket's reader callback
    (:meth:`CountingSession.walk`).

    It holds the client, never the socket: a traceback that keeps the walk alive must not keep
    the socket open after the client closed.
    """

    def __init__(self, client: GufoClient, column: str, max_repetitions: int) -> None:
        self._client = client
        self._bulk = max_repetitions > 0
        self._ctx = GetIter(column, max_repetitions) if self._bulk else GetIter(column)

    async def run(self, take: Callable[[Varbinds], bool], wait: Callable[[], float]) -> None:
        """Read the column to its end (see :class:`~chm_exporter.snmp.client.ColumnWalk`)."""
        await _mapped(self._run(take, wait))

    async def _run(self, take: Callable[[Varbinds], bool], wait: Callable[[], float]) -> None:
        session = self._client._open()
        sock, ctx = session._sock, self._ctx
        try:
            if self._bulk:
                await session.walk(
                    partial(sock.send_get_bulk, ctx),
                    partial(sock.recv_get_bulk, ctx),
                    partial(_take_bulk, take),
                    wait,
                )
            else:
                await session.walk(
                    partial(sock.send_get_next, ctx),
                    partial(sock.recv_get_next, ctx),
                    partial(_take_next, take),
                    wait,
                )
        except StopAsyncIteration:  # the end of the agent's MIB view
            return
        except NoSuchInstance:
            if self._bulk:
                raise
            return  # GETNEXT past the last instance


def _take_bulk(take: Callable[[Varbinds], bool], batch: list[tuple[str, RawValue] | None]) -> bool:
    """Hand a GETBULK reply's rows to `take`; gufo-snmp ends the list with None where the reply
    left the column (and never sends an empty list)."""
    if batch[-1] is None:
        batch.pop()
        take(batch)  # type: ignore[arg-type]  # no None left
        return False
    return take(batch)  # type: ignore[arg-type]  # no None in it


def _take_next(take: Callable[[Varbinds], bool], row: tuple[str, RawValue]) -> bool:
    return take([row])


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
