"""The probers: one file each, one signature, and the table that alone knows their names.

A prober is ``async def probe_x(ctx: ProbeContext, sink: MetricSink) -> bool``: it adds its
metrics to `sink`, logs why it failed to `ctx.log`, and returns whether the probe succeeded.
Raising is a bug (the handler turns it into ``probe_success 0`` and logs the traceback).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from chm_exporter.exposition import MetricSink
from chm_exporter.probers.context import ProbeContext
from chm_exporter.probers.icmp import probe_icmp
from chm_exporter.probers.snmp import probe_snmp

Prober = Callable[[ProbeContext, MetricSink], Awaitable[bool]]

PROBERS: dict[str, Prober] = {
    "snmp": probe_snmp,
    "icmp": probe_icmp,
}

__all__ = ["PROBERS", "ProbeContext", "Prober"]
