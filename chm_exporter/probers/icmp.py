"""The ICMP prober: echo requests on unprivileged datagram sockets (icmplib).

Metric names follow blackbox_exporter's icmp prober (probe_icmp_duration_seconds{phase},
probe_ip_protocol, probe_ip_addr_hash, probe_dns_lookup_time_seconds) so its dashboards work, plus
packet counts and RTT statistics over `count` echoes. icmplib does not report a reply's TTL, so
probe_icmp_reply_hop_limit is not emitted.
"""

from __future__ import annotations

import asyncio
import functools
import math
import os
import socket
import time
from dataclasses import dataclass, field

from icmplib import ICMPLibError, ICMPRequest, SocketPermissionError
from icmplib.sockets import AsyncSocket, ICMPv4Socket, ICMPv6Socket

from chm_exporter.catalogue import declared
from chm_exporter.config import IcmpSettings
from chm_exporter.errors import IcmpProbeError
from chm_exporter.exposition import MetricSink
from chm_exporter.probers.context import ProbeContext
from chm_exporter.target import IpFamily, ip_version

# Linux: IP_MTU_DISCOVER / IP_PMTUDISC_DO set the don't-fragment bit on every datagram.
_IP_MTU_DISCOVER = getattr(socket, "IP_MTU_DISCOVER", 10)
_IP_PMTUDISC_DO = getattr(socket, "IP_PMTUDISC_DO", 2)
_MIN_WAIT_SECONDS = 0.05
# The last echo's wait ends this much before the deadline, so that its own timer ends it and
# not the handler's deadline at the same instant (scheduling order, not a reserve of time).
_TIMER_SLACK_SECONDS = 0.005
_PHASE = declared("probe_icmp_duration_seconds", ("phase",))
_DNS = declared("probe_dns_lookup_time_seconds")
_PROTOCOL = declared("probe_ip_protocol")
_HASH = declared("probe_ip_addr_hash")
_SENT = declared("probe_icmp_packets_sent")
_RECEIVED = declared("probe_icmp_packets_received")
_RTT = declared("probe_icmp_rtt_seconds", ("stat",))


def _fnv32a(text: str) -> int:
    """blackbox_exporter's probe_ip_addr_hash: FNV-1a 32-bit of the address text."""
    value = 0x811C9DC5
    for byte in text.encode():
        value = ((value ^ byte) * 0x01000193) & 0xFFFFFFFF
    return value


@functools.lru_cache(maxsize=64)
def echo_payload(size: int) -> bytes:
    """A fixed payload of `size` bytes (icmplib would draw random bytes for every echo)."""
    pattern = b"CHM exporter echo "
    return (pattern * (size // len(pattern) + 1))[:size]


def open_icmp_socket(address: str, settings: IcmpSettings) -> AsyncSocket:
    """An ICMP socket for `address`: unprivileged datagram, raw only when running as root.

    Raises:
        IcmpProbeError: the kernel forbids both, naming the sysctl that allows datagram sockets.
    """
    kind = ICMPv6Socket if ip_version(address) == 6 else ICMPv4Socket
    try:
        sock = kind(None, privileged=False)
    except SocketPermissionError:
        if os.geteuid() != 0:
            raise IcmpProbeError(
                "unprivileged ICMP sockets are forbidden for this user's group: allow them with "
                "`sysctl -w net.ipv4.ping_group_range='0 2147483647'` (or run as root)"
            ) from None
        try:
            sock = kind(None, privileged=True)
        except ICMPLibError as exc:
            raise IcmpProbeError(f"cannot open a raw ICMP socket: {exc}") from None
    except ICMPLibError as exc:
        raise IcmpProbeError(f"cannot open an ICMP socket: {exc}") from None
    if settings.dont_fragment and kind is ICMPv4Socket:
        sock._sock.setsockopt(socket.IPPROTO_IP, _IP_MTU_DISCOVER, _IP_PMTUDISC_DO)
    return AsyncSocket(sock)


@dataclass(slots=True)
class IcmpRaw:
    """What one ICMP probe collected: phase times, the address, echoes sent, replies' RTTs."""

    resolve_seconds: float | None = None
    setup_seconds: float | None = None
    address: str | None = None
    sent: int = 0
    rtts: list[float] = field(default_factory=list)


def address_family(settings: IcmpSettings) -> tuple[IpFamily, bool]:
    """The family the echoes are sent in (as blackbox_exporter's preferred_ip_protocol)."""
    return settings.preferred_ip_protocol, settings.ip_protocol_fallback


async def collect(ctx: ProbeContext, settings: IcmpSettings, raw: IcmpRaw) -> None:
    """Send `count` echo requests to the target, each waiting its share of the time left.

    Raises:
        ProbeError: the name does not resolve, or no ICMP socket can be opened.
    """
    loop = asyncio.get_running_loop()
    address = ctx.address()
    resolved = time.perf_counter()
    raw.resolve_seconds = ctx.resolution.seconds
    raw.address = address
    sock = open_icmp_socket(address, settings)
    raw.setup_seconds = time.perf_counter() - resolved
    ident = (os.getpid() ^ id(ctx)) & 0xFFFF
    ctx.log.debug(
        "icmp: %d echo requests to %s, %d bytes", settings.count, address, settings.payload_size
    )
    with sock:
        for seq in range(settings.count):
            if seq:
                await asyncio.sleep(settings.interval)
            left = settings.count - seq
            budget = ctx.deadline - _TIMER_SLACK_SECONDS - loop.time()
            wait = (budget - (left - 1) * settings.interval) / left
            if wait < _MIN_WAIT_SECONDS:
                ctx.log.warning(
                    "icmp: deadline reached after %d of %d echoes", raw.sent, settings.count
                )
                break
            request = ICMPRequest(
                address, ident, seq, payload=echo_payload(settings.payload_size), ttl=settings.ttl
            )
            try:
                sock.send(request)
                raw.sent += 1
                reply = await sock.receive(request, wait)
                reply.raise_for_status()
            except ICMPLibError as exc:
                ctx.log.debug("icmp: seq %d: %s", seq, exc or type(exc).__name__)
                continue
            raw.rtts.append(reply.time - request.time)
            ctx.log.debug("icmp: seq %d: reply from %s in %.6fs", seq, reply.source, raw.rtts[-1])


def emit(ctx: ProbeContext, settings: IcmpSettings, raw: IcmpRaw, sink: MetricSink) -> bool:
    """The phases, the address and the echo statistics; True when a reply came back."""
    if raw.resolve_seconds is not None:
        sink.add(_DNS.name, raw.resolve_seconds, None, _DNS.help)
        sink.add(_PHASE.name, raw.resolve_seconds, {"phase": "resolve"}, _PHASE.help)
    if raw.address is not None:
        version = 6 if ip_version(raw.address) == 6 else 4
        sink.add(_PROTOCOL.name, version, None, _PROTOCOL.help)
        sink.add(_HASH.name, _fnv32a(raw.address), None, _HASH.help)
    if raw.setup_seconds is None:
        return False
    sink.add(_PHASE.name, raw.setup_seconds, {"phase": "setup"}, _PHASE.help)
    ctx.metrics.icmp_packets.inc(raw.sent)
    _emit_results(sink, raw.sent, raw.rtts)
    if not raw.rtts:
        ctx.log.error("icmp: no reply from %s to %d echo requests", raw.address, raw.sent)
    return bool(raw.rtts)


def _emit_results(sink: MetricSink, sent: int, rtts: list[float]) -> None:
    sink.add(_SENT.name, sent, None, _SENT.help)
    sink.add(_RECEIVED.name, len(rtts), None, _RECEIVED.help)
    if not rtts:
        return
    sink.add(_PHASE.name, rtts[0], {"phase": "rtt"}, _PHASE.help)
    # statistics.pstdev is exact but slow (Fractions); the float formula is plenty for RTTs.
    mean = math.fsum(rtts) / len(rtts)
    stats = {
        "min": min(rtts),
        "avg": mean,
        "max": max(rtts),
        "stddev": math.sqrt(math.fsum((rtt - mean) ** 2 for rtt in rtts) / len(rtts)),
    }
    for stat, value in stats.items():
        sink.add(_RTT.name, value, {"stat": stat}, _RTT.help)
