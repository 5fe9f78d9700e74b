"""The echo engine: ICMP sockets shared by every probe of the process.

One socket per address family and per packet setting (TTL, don't-fragment) is opened on first
use and registered once with the event loop (``add_reader``); every concurrent probe sends on
it and waits on a future keyed by (destination, sequence number). The reader hands each reply
to the future it answers and drops the rest. A probe that opened, wrapped and closed a socket
per echo spent more CPU on that than on the echo (issue 14).

Sockets: an unprivileged datagram socket (``SOCK_DGRAM``/``IPPROTO_ICMP``, allowed by the
``net.ipv4.ping_group_range`` sysctl) whenever the kernel allows it; a raw socket only when it
does not and the process runs as root (:mod:`chm_exporter.icmp.packet` says what each kind
reads). Sequence numbers come from one counter for the process, so concurrent echoes to one
address never share a key; the identifier is the datagram socket's port (the kernel writes it)
or, on a raw socket, the process id (each ``--web.workers`` process has its own sockets and
filters out the others' replies).

Errors: a send that fails (no route, message too long) fails that echo at once; an ICMP error
for an echo (destination unreachable, time exceeded) fails it with the reason, read from the
socket's error queue (``IP_RECVERR``) or, on a raw socket, from the error packet itself; an
echo without an answer fails when its own timer (one ``call_at`` per echo) fires.

The engine belongs to one event loop (the process's): :func:`echo_engine` opens a new one when
called from another loop (tests run one loop each) and :func:`close_echo_engine` closes its
sockets (the server's cleanup; also at interpreter exit).
"""

from __future__ import annotations

import asyncio
import atexit
import os
import socket
import struct
import time
from dataclasses import dataclass
from itertools import count

from chm_exporter.errors import IcmpProbeError
from chm_exporter.icmp.packet import (
    echo_request,
    extended_error_text,
    parse_raw,
    parse_reply,
    parse_request,
)

__all__ = [
    "EchoEngine",
    "EchoError",
    "EchoSocket",
    "SocketKey",
    "close_echo_engine",
    "echo_engine",
    "open_socket",
]

# Linux: IP_MTU_DISCOVER / IP_PMTUDISC_DO set the don't-fragment bit on every datagram.
_IP_MTU_DISCOVER = getattr(socket, "IP_MTU_DISCOVER", 10)
_IP_PMTUDISC_DO = getattr(socket, "IP_PMTUDISC_DO", 2)
_IP_RECVERR = getattr(socket, "IP_RECVERR", 11)
_IPV6_RECVERR = getattr(socket, "IPV6_RECVERR", 25)
_RECVERR = {4: _IP_RECVERR, 6: _IPV6_RECVERR}
_SOL_RAW, _ICMP_FILTER, _ICMP6_FILTER = 255, 1, 1  # linux/icmp.h, linux/icmpv6.h
_RAW_TYPES = {4: (0, 3, 11, 12), 6: (1, 2, 3, 129)}
_BUFFER_BYTES = 65536  # the largest ICMP datagram (payload_size is at most 65,000)
_ANCILLARY_BYTES = 512
_READS_PER_WAKEUP = 256  # a raw socket sees every ICMP packet of the host: let others run too
_RECEIVE_BUFFER_BYTES = 4 << 20  # replies of ~5,000 echoes sent at once (capped by rmem_max)
_FAMILY = {4: socket.AF_INET, 6: socket.AF_INET6}
_PROTOCOL = {4: socket.IPPROTO_ICMP, 6: socket.IPPROTO_ICMPV6}
_SEQUENCES = count()
_CLOSED = "the ICMP socket was closed"


class EchoError(Exception):
    """One echo got no reply (`reason`: the send failed, an ICMP error, no reply in time)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class SocketKey:
    """What an echo needs of its socket: the IP version and the packet settings it sets."""

    version: int
    ttl: int = 64
    dont_fragment: bool = False

    @classmethod
    def of(cls, version: int, ttl: int, dont_fragment: bool) -> SocketKey:
        """The key for these settings (don't-fragment is set on IPv4 only, as before)."""
        return cls(version, ttl, dont_fragment and version == 4)


def _forbidden() -> IcmpProbeError:
    return IcmpProbeError(
        "unprivileged ICMP sockets are forbidden for this user's group: allow them with "
        "`sysctl -w net.ipv4.ping_group_range='0 2147483647'` (or run as root)"
    )


def open_socket(key: SocketKey) -> tuple[socket.socket, bool]:
    """A non-blocking ICMP socket with `key`'s settings, and whether it is raw (privileged).

    Raises:
        IcmpProbeError: the kernel forbids both kinds (naming the sysctl that allows datagram
            sockets), or the family is unavailable.
    """
    family, protocol = _FAMILY[key.version], _PROTOCOL[key.version]
    try:
        sock, privileged = socket.socket(family, socket.SOCK_DGRAM, protocol), False
    except PermissionError:
        if os.geteuid() != 0:
            raise _forbidden() from None
        try:
            sock, privileged = socket.socket(family, socket.SOCK_RAW, protocol), True
        except OSError as exc:
            raise IcmpProbeError(f"cannot open a raw ICMP socket: {exc}") from None
    except OSError as exc:
        raise IcmpProbeError(f"cannot open an ICMP socket: {exc}") from None
    try:
        sock.setblocking(False)
        if not privileged:  # take the port (the identifier of our echoes) now, not at 1st send
            sock.bind(("0.0.0.0" if key.version == 4 else "::", 0))
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, _RECEIVE_BUFFER_BYTES)
        if key.version == 4:
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, key.ttl)
            if key.dont_fragment:
                sock.setsockopt(socket.IPPROTO_IP, _IP_MTU_DISCOVER, _IP_PMTUDISC_DO)
            if not privileged:
                sock.setsockopt(socket.IPPROTO_IP, _IP_RECVERR, 1)
            else:
                sock.setsockopt(_SOL_RAW, _ICMP_FILTER, _blocked_types(4))
        else:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, key.ttl)
            if not privileged:
                sock.setsockopt(socket.IPPROTO_IPV6, _IPV6_RECVERR, 1)
            else:
                sock.setsockopt(socket.IPPROTO_ICMPV6, _ICMP6_FILTER, _blocked_types(6))
    except OSError as exc:
        sock.close()
        raise IcmpProbeError(f"cannot set up the ICMP socket: {exc}") from None
    return sock, privileged


def _blocked_types(version: int) -> bytes:
    """A raw socket's ICMP type filter (``ICMP_FILTER``, ``ICMP6_FILTER``): a bit set per type
    the kernel must not deliver; all but echo replies and the errors that quote a request, so
    that other traffic (our own requests on loopback, neighbour discovery) wakes nobody."""
    wanted = _RAW_TYPES[version]
    words = 1 if version == 4 else 8  # ICMPv4: one 32-bit mask; ICMPv6: 256 bits
    mask = [0xFFFFFFFF] * words
    for kind in wanted:
        mask[kind >> 5] &= ~(1 << (kind & 31))
    return struct.pack(f"={words}I", *mask)


def _key_address(version: int, address: str) -> str:
    """`address` as the kernel reports a peer: canonical text, without an IPv6 zone."""
    family = _FAMILY[version]
    return socket.inet_ntop(family, socket.inet_pton(family, address.partition("%")[0]))


class EchoSocket:
    """One open ICMP socket and the echoes waiting for a reply on it."""

    def __init__(self, loop: asyncio.AbstractEventLoop, key: SocketKey) -> None:
        """Open the socket and register its reader.

        Raises:
            IcmpProbeError: no ICMP socket can be opened (see :func:`open_socket`).
        """
        self.key = key
        self._loop = loop
        self._sock, self.privileged = open_socket(key)
        self.ident = os.getpid() & 0xFFFF if self.privileged else self._sock.getsockname()[1]
        self._buffer = bytearray(_BUFFER_BYTES)
        self._view = memoryview(self._buffer)
        self._waiting: dict[tuple[str, int], tuple[asyncio.Future[float], float]] = {}
        loop.add_reader(self._sock.fileno(), self._readable)

    @property
    def waiting(self) -> int:
        """Echoes sent and not yet answered, failed or given up."""
        return len(self._waiting)

    def send(self, address: str, payload: bytes) -> tuple[str, int]:
        """Send one echo request carrying `payload` to `address`; :meth:`reply` waits for it.

        Returns:
            The echo's key (the destination as the kernel reports it, the sequence number).

        Raises:
            EchoError: the send failed: no route, message too long, ...
        """
        if self._sock.fileno() < 0:
            raise EchoError(_CLOSED)
        version = self.key.version
        peer = _key_address(version, address)
        seq = next(_SEQUENCES) & 0xFFFF
        while (peer, seq) in self._waiting:  # 65,536 echoes to one address in flight
            seq = next(_SEQUENCES) & 0xFFFF
        packet = echo_request(version, self.ident, seq, payload, self.privileged and version == 4)
        try:
            self._sock.sendto(packet, (address, 0))
        except OSError as exc:
            raise EchoError(f"send failed: {exc.strerror or exc}") from None
        key = (peer, seq)
        self._waiting[key] = (self._loop.create_future(), time.perf_counter())
        return key

    async def reply(self, key: tuple[str, int], wait: float) -> float:
        """Wait at most `wait` seconds for the reply to the echo :meth:`send` sent as `key`.

        The echo is forgotten when this returns, raises or is cancelled.

        Returns:
            The round-trip time in seconds.

        Raises:
            EchoError: no reply in time, an ICMP error came back, or the socket was closed.
        """
        waiting = self._waiting.get(key)
        if waiting is None:
            raise EchoError(_CLOSED)
        timer = self._loop.call_at(self._loop.time() + wait, _expire, waiting[0], wait)
        try:
            return await waiting[0]
        finally:
            timer.cancel()
            self._waiting.pop(key, None)

    async def echo(self, address: str, payload: bytes, wait: float) -> float:
        """:meth:`send` then :meth:`reply`: the round-trip time of one echo.

        Raises:
            EchoError: as :meth:`send` and :meth:`reply`.
        """
        return await self.reply(self.send(address, payload), wait)

    def close(self) -> None:
        """Unregister and close the socket; every waiting echo fails."""
        if self._sock.fileno() < 0:
            return
        if not self._loop.is_closed():
            self._loop.remove_reader(self._sock.fileno())
        self._sock.close()
        for future, _sent in self._waiting.values():
            if not future.done():
                future.set_exception(EchoError(_CLOSED))
        self._waiting.clear()

    def _readable(self) -> None:
        """Read what arrived; each reply completes the echo it answers."""
        for _ in range(_READS_PER_WAKEUP):
            try:
                size, peer = self._sock.recvfrom_into(self._buffer)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:  # an ICMP error was reported (IP_RECVERR): its details are queued
                self._read_errors()
                continue
            self.received(self._view[:size], peer[0], time.perf_counter())

    def received(self, data: memoryview | bytes, source: str, now: float) -> None:
        """Hand one datagram read from the socket to the echo it answers or fails, if any."""
        version = self.key.version
        if "%" in source:
            source = source.partition("%")[0]
        if not self.privileged:
            reply = parse_reply(data, version)
            if reply is not None and reply[0] == self.ident:
                self._answer((source, reply[1]), now)
            return
        echo = parse_raw(data, version, source)
        if echo is None or echo.ident != self.ident:
            return
        if echo.error is None:
            self._answer((echo.address, echo.seq), now)
        else:
            self._fail((echo.address, echo.seq), f"{echo.error} from {echo.reporter}")

    def _answer(self, key: tuple[str, int], now: float) -> None:
        waiting = self._waiting.get(key)
        if waiting is not None and not waiting[0].done():
            waiting[0].set_result(now - waiting[1])

    def _fail(self, key: tuple[str, int], reason: str) -> None:
        waiting = self._waiting.get(key)
        if waiting is not None and not waiting[0].done():
            waiting[0].set_exception(EchoError(reason))

    def _read_errors(self) -> None:
        """Fail the echoes the socket's error queue names (a datagram socket's ICMP errors)."""
        version = self.key.version
        for _ in range(_READS_PER_WAKEUP):
            try:
                data, ancillary, _flags, peer = self._sock.recvmsg(
                    _BUFFER_BYTES, _ANCILLARY_BYTES, socket.MSG_ERRQUEUE
                )
            except OSError:  # BlockingIOError: the queue is empty
                return
            request = parse_request(data, version)
            reason = next(
                (extended_error_text(cdata, version) for _, ctype, cdata in ancillary
                 if ctype == _RECVERR[version]),
                None,
            )  # fmt: skip
            if request is not None and reason is not None and peer:
                self._fail((str(peer[0]).partition("%")[0], request[1]), reason)


def _expire(future: asyncio.Future[float], wait: float) -> None:
    if not future.done():
        future.set_exception(EchoError(f"no reply within {wait:.3f}s"))


class EchoEngine:
    """The echo sockets of one event loop, opened on first use, one per :class:`SocketKey`."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self._sockets: dict[SocketKey, EchoSocket] = {}

    def socket(self, key: SocketKey) -> EchoSocket:
        """The open socket for `key`, opened now if it is the first.

        Raises:
            IcmpProbeError: no ICMP socket can be opened (see :func:`open_socket`).
        """
        sock = self._sockets.get(key)
        if sock is None:
            sock = self._sockets[key] = EchoSocket(self.loop, key)
        return sock

    def close(self) -> None:
        """Close every socket (waiting echoes fail)."""
        for sock in self._sockets.values():
            sock.close()
        self._sockets.clear()


_engine: EchoEngine | None = None


def echo_engine() -> EchoEngine:
    """The engine of the running event loop (a new one, the old one closed, on another loop)."""
    global _engine
    loop = asyncio.get_running_loop()
    if _engine is None or _engine.loop is not loop:
        if _engine is not None:
            _engine.close()
        _engine = EchoEngine(loop)
    return _engine


def close_echo_engine() -> None:
    """Close the engine's sockets; the next probe opens new ones."""
    global _engine
    if _engine is not None:
        _engine.close()
        _engine = None


atexit.register(close_echo_engine)
