"""The ICMP prober: echo requests through the process's shared echo sockets.

The echoes go through :mod:`chm_exporter.icmp.echo` (one unprivileged datagram socket per address
family and packet settings for the whole process, raw only when running as root and datagram
ICMP is forbidden). Metric names follow blackbox_exporter's icmp prober
(probe_icmp_duration_seconds{phase}, probe_ip_protocol, probe_ip_addr_hash,
probe_dns_lookup_time_seconds) so its dashboards work, plus packet counts and RTT statistics over
`count` echoes. The replies' TTL is not read, so probe_icmp_reply_hop_limit is not emitted.
"""

from __future__ import annotations

import asyncio
import functools
import math
import time
from dataclasses import dataclass, field

from chm_exporter.catalogue import declared
from chm_exporter.config import IcmpSettings
from chm_exporter.exposition import MetricSink
from chm_exporter.icmp.echo import EchoError, EchoSocket, SocketKey, echo_engine
from chm_exporter.probers.context import ProbeContext
from chm_exporter.target import IpFamily, ip_version

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
    """A fixed payload of `size` bytes (the same for every echo: nothing to draw per packet)."""
    pattern = b"CHM exporter echo "
    return (pattern * (size // len(pattern) + 1))[:size]


def echo_socket(address: str, settings: IcmpSettings) -> EchoSocket:
    """The shared echo socket for `address`'s family and the module's TTL and don't-fragment.

    Raises:
        IcmpProbeError: no ICMP socket can be opened (the message names the sysctl that allows
            unprivileged ones).
    """
    version = 6 if ip_version(address) == 6 else 4
    key = SocketKey.of(version, settings.ttl, settings.dont_fragment)
    return echo_engine().socket(key)


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
    sock = echo_socket(address, settings)
    raw.setup_seconds = time.perf_counter() - resolved
    payload = echo_payload(settings.payload_size)
    ctx.log.debug(
        "icmp: %d echo requests to %s, %d bytes", settings.count, address, settings.payload_size
    )
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
        try:
            echo = sock.send(address, payload)
            raw.sent += 1  # counted before the wait: a probe cancelled at its deadline sent it
            rtt = await sock.reply(echo, wait)
        except EchoError as exc:
            ctx.log.debug("icmp: seq %d: %s", seq, exc.reason)
            continue
        raw.rtts.append(rtt)
        ctx.log.debug("icmp: seq %d: reply from %s in %.6fs", seq, address, rtt)


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
