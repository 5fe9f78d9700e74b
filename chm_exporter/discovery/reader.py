"""Discovery's one question to SNMP: "read these GETs and walk these columns of this address
with this auth, within a deadline".

:class:`WalkerReader` answers it with the probe's :class:`~chm_exporter.snmp.walker.Walker`,
which talks through the client seam (:mod:`chm_exporter.snmp.client`, gufo-snmp behind it):
it stops itself at the deadline, retries, shrinks bulks, and turns a library panic or a closed
port into a failed read. Discovery's unit tests use a fake reader that answers from a dict.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from chm_exporter.config import CommunityAuth, SnmpSettings, UsmAuth
from chm_exporter.discovery.sweep import RateLimiter
from chm_exporter.errors import SnmpProbeError
from chm_exporter.probelog import ProbeLog
from chm_exporter.profiles import WalkPlan, WalkResult
from chm_exporter.snmp.walker import GET_BATCH, Walker

# Columns of one device read at once during discovery (the probe's default is 8).
WALK_CONCURRENCY = 4


@dataclass(frozen=True, slots=True)
class Budget:
    """Seconds per request, retries after a timeout, and the loop time to stop at."""

    request_timeout: float
    retries: int
    deadline: float


class SnmpReader(Protocol):
    """Reads a walk plan from one agent."""

    async def read(
        self,
        address: str,
        port: int,
        auth: CommunityAuth | UsmAuth,
        plan: WalkPlan,
        budget: Budget,
        log: ProbeLog,
    ) -> WalkResult:
        """Everything of `plan` the agent answered by the budget's deadline.

        A column that failed (or was cut by the deadline) after others answered is left out
        (logged), not raised.

        Raises:
            SnmpProbeError: no answer, credentials refused, or garbage (nothing read).
            TimeoutError: the deadline passed.
        """
        ...


class WalkerReader:
    """:class:`SnmpReader` through the probe's walker."""

    async def read(
        self,
        address: str,
        port: int,
        auth: CommunityAuth | UsmAuth,
        plan: WalkPlan,
        budget: Budget,
        log: ProbeLog,
    ) -> WalkResult:
        """See :meth:`SnmpReader.read`."""
        settings = SnmpSettings(
            timeout=budget.request_timeout,
            retries=budget.retries,
            walk_concurrency=WALK_CONCURRENCY,
        )
        result = WalkResult()
        walker = Walker(address, port, auth, settings, log, deadline=budget.deadline)
        try:
            await walker.run(plan, result)
        except (SnmpProbeError, TimeoutError) as exc:
            if not result.columns:
                raise
            log.debug("%s: partial answer: %s", address, exc or "deadline")
        return result


def estimated_packets(plan: WalkPlan) -> int:
    """Requests a plan takes at least: one per GET batch, one per column (a column's further
    bulk requests are not known in advance)."""
    return -(-len(plan.gets) // GET_BATCH) + len(plan.walks)


class PacedReader:
    """A reader whose requests count against the discovery rate shared with the sweeps."""

    def __init__(self, reader: SnmpReader, limiter: RateLimiter) -> None:
        self._reader = reader
        self._limiter = limiter

    async def read(
        self,
        address: str,
        port: int,
        auth: CommunityAuth | UsmAuth,
        plan: WalkPlan,
        budget: Budget,
        log: ProbeLog,
    ) -> WalkResult:
        """Wait for the plan's packets at the shared rate, then read it."""
        await self._limiter.acquire(estimated_packets(plan))
        return await self._reader.read(address, port, auth, plan, budget, log)
