"""The sweep: which addresses of a job answer SNMP, and to which of its auths.

One UDP socket per address family sends one small request per address (:mod:`.ber`), paced by
the shared :class:`RateLimiter`, and reads every answer as it comes. Nothing is held per silent
address but its place in the pending list: no socket, no task, no timer. The auths are tried in
order, each in ``retries + 1`` rounds over the addresses that have not answered yet; a round
ends ``timeout`` after its last packet. Two v3 auths share one round (the USM discovery request
is the same for every user).

The socket is not connected and does not ask for ICMP errors (no ``IP_RECVERR``), so an
"ICMP port unreachable" from a host without an agent is never seen: such an address costs
what a silent one does, its rounds' packets and nothing more.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import count

from chm_exporter.config import CommunityAuth, UsmAuth
from chm_exporter.discovery.ber import community_get, reply_id, v3_discovery
from chm_exporter.discovery.model import IpAddress

# Packets due within this many seconds are sent without sleeping: a wake-up per packet or two
# cost more CPU than the packets (bench/discovery.py at 200/s: 1.5 s CPU with 5 ms, 1.0 s with
# 20 ms). The average rate holds; a burst is at most 20 ms of packets (4 at 200/s).
_MAX_EARLY_SECONDS = 0.02
RECV_BUFFER_BYTES = 1 << 20
_ID_MASK = 0x7FFFFFFF


class RateLimiter:
    """Packets per second for every job together (a virtual-time token bucket).

    Each caller reserves the next free send slot; it sleeps only when that slot is more than a
    few milliseconds away, so a caller may send a little early but never faster on average.
    """

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self._next = 0.0

    async def acquire(self, packets: int = 1) -> None:
        """Wait until `packets` more may be sent."""
        now = asyncio.get_running_loop().time()
        slot = max(now, self._next)
        self._next = slot + packets / self.rate
        if slot - now > _MAX_EARLY_SECONDS:
            await asyncio.sleep(slot - now)


@dataclass(slots=True)
class SweepResult:
    """What one sweep learned."""

    answered: dict[str, int] = field(default_factory=dict)
    """address -> index (in the job's auths) of the first auth it answered"""
    addresses: int = 0
    packets_sent: int = 0
    send_errors: int = 0


class _Receiver(asyncio.DatagramProtocol):
    def __init__(self, pending: dict[int, tuple[str, int]], result: SweepResult) -> None:
        self.pending = pending
        self.result = result
        self.all_answered = asyncio.Event()
        self.waiting_for: set[str] = set()

    def datagram_received(self, data: bytes, addr: tuple[str | object, ...]) -> None:
        ident = reply_id(data)
        if ident is None:
            return
        expected = self.pending.get(ident)
        if expected is None or expected[0] != str(addr[0]):
            return  # not ours, or from another address than asked
        address, auth_index = expected
        known = self.result.answered.get(address)
        if known is None or auth_index < known:
            self.result.answered[address] = auth_index
        self.waiting_for.discard(address)
        if not self.waiting_for:
            self.all_answered.set()

    def error_received(self, exc: Exception) -> None:
        self.result.send_errors += 1


def _request(auth: CommunityAuth | UsmAuth, ident: int) -> bytes:
    if isinstance(auth, UsmAuth):
        return v3_discovery(ident)
    version = 0 if auth.version == "1" else 1
    return community_get(version, auth.community.get_secret_value().encode(), ident)


def _round_key(auth: CommunityAuth | UsmAuth) -> str:
    """Auths whose sweep request is the same bytes share one round."""
    if isinstance(auth, UsmAuth):
        return "v3"
    return f"v{auth.version}:{auth.community.get_secret_value()}"


@dataclass(frozen=True, slots=True)
class SweepSettings:
    """The agents' port, seconds a round waits after its last packet, extra rounds per auth."""

    port: int
    wait: float
    retries: int


async def sweep(
    addresses: Iterable[IpAddress],
    auths: Sequence[CommunityAuth | UsmAuth],
    limiter: RateLimiter,
    settings: SweepSettings,
) -> SweepResult:
    """Send every address the request of each auth in turn; note who answered which.

    Never raises for an address: a send that fails counts in ``send_errors``.
    """
    result = SweepResult()
    by_family: dict[int, list[str]] = {}
    for address in addresses:
        by_family.setdefault(address.version, []).append(str(address))
        result.addresses += 1
    for version, family in sorted(by_family.items()):
        await _sweep_family(family, version, auths, limiter, settings, result)
    return result


async def _sweep_family(
    addresses: list[str],
    version: int,
    auths: Sequence[CommunityAuth | UsmAuth],
    limiter: RateLimiter,
    settings: SweepSettings,
    result: SweepResult,
) -> None:
    loop = asyncio.get_running_loop()
    pending: dict[int, tuple[str, int]] = {}
    af = socket.AF_INET if version == 4 else socket.AF_INET6
    sock = socket.socket(af, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECV_BUFFER_BYTES)
    sock.setblocking(False)
    transport, receiver = await loop.create_datagram_endpoint(
        lambda: _Receiver(pending, result), sock=sock
    )
    ids = count(1)
    done_keys: set[str] = set()
    try:
        for auth_index, auth in enumerate(auths):
            key = _round_key(auth)
            if key in done_keys:
                continue
            done_keys.add(key)
            for _ in range(settings.retries + 1):
                todo = [a for a in addresses if a not in result.answered]
                if not todo:
                    return
                receiver.waiting_for = set(todo)
                receiver.all_answered.clear()
                for address in todo:
                    if address not in receiver.waiting_for:
                        continue  # answered an earlier round late
                    ident = next(ids) & _ID_MASK
                    pending[ident] = (address, auth_index)
                    await limiter.acquire()
                    try:
                        transport.sendto(_request(auth, ident), (address, settings.port))
                        result.packets_sent += 1
                    except OSError:
                        result.send_errors += 1
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(receiver.all_answered.wait(), settings.wait)
                pending.clear()
    finally:
        transport.close()
