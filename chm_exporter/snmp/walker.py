"""Executing a walk plan against one agent: GETs in batches, column walks concurrently.

Each concurrent walk has a session (a UDP socket) of its own, so replies never cross. A walk that
times out is retried from its start with half the max-repetitions: a reply too big for one UDP
datagram is never sent at all by some agents (snmpsim, with 5.5 kB strings and 50 repetitions),
and a smaller bulk is the only cure. What a walk learned is kept per device in `bulk_limits`.

A column's row count from the previous scrape (`column_rows`) sizes its bulk: 101 rows at a cap
of 25 are read as 5 requests of 21 rather than 5 of 25, and a 1-row column asks for 2, so few
rows of the next column are decoded only to be thrown away.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from functools import partial
from typing import TypeVar

from gufo.snmp import NoSuchInstance, SnmpAuthError, SnmpDecodeError, SnmpError

from chm_exporter.config import CommunityAuth, SnmpSettings, UsmAuth
from chm_exporter.errors import SnmpProbeError
from chm_exporter.probelog import ProbeLog
from chm_exporter.snmp.session import CountingSession, open_session
from chm_exporter.walk import WalkPlan, WalkResult

GET_BATCH = 20
T = TypeVar("T")


@dataclass(slots=True)
class WalkStats:
    """Counters of one scrape's SNMP traffic."""

    pdus_sent: int = 0
    retries: int = 0
    timeouts: int = 0
    varbinds: int = 0
    walks: int = 0
    errors: list[str] = field(default_factory=list)


@dataclass(slots=True)
class _Job:
    oids: list[str]
    walk: bool


class _DeviceDownError(Exception):
    """A request failed after every retry: the other workers stop taking jobs."""


def bulk_size(cap: int, rows: int | None) -> int:
    """Max-repetitions for a column of `rows` rows (unknown: the cap): the fewest requests the
    cap allows, sized evenly, counting the one varbind past the column's end."""
    if rows is None:
        return cap
    needed = rows + 1
    requests = -(-needed // cap)
    return max(1, -(-needed // requests))


class Walker:
    """Runs one plan against one agent and fills a :class:`WalkResult`."""

    def __init__(
        self,
        addr: str,
        port: int,
        auth: CommunityAuth | UsmAuth,
        settings: SnmpSettings,
        log: ProbeLog,
        bulk_limits: MutableMapping[str, int] | None = None,
        column_rows: MutableMapping[str, int] | None = None,
    ) -> None:
        self._addr = addr
        self._port = port
        self._auth = auth
        self._settings = settings
        self._log = log
        self._limits: MutableMapping[str, int] = bulk_limits if bulk_limits is not None else {}
        self._rows: MutableMapping[str, int] = column_rows if column_rows is not None else {}
        self._bulk = settings.walk == "bulk" and auth.version != "1"
        self._sessions: list[CountingSession] = []
        self._alive = False  # the agent answered something in this scrape
        self.stats = WalkStats()

    async def run(self, plan: WalkPlan, result: WalkResult) -> None:
        """Read everything in `plan` into `result`; values arrive in `result` as they come.

        Raises:
            SnmpProbeError: the agent did not answer, refused the credentials, or sent garbage.
                Whatever was read before stays in `result`.
        """
        jobs = [
            _Job(plan.gets[i : i + GET_BATCH], False) for i in range(0, len(plan.gets), GET_BATCH)
        ]
        jobs += [_Job([col], True) for col in plan.walks]
        self.stats.walks = len(plan.walks)
        if not jobs:
            return
        queue: asyncio.Queue[_Job] = asyncio.Queue()
        for job in jobs:
            queue.put_nowait(job)
        down: BaseException | None = None
        try:
            first = await self._open(None)
            engine_id = first.get_engine_id() if self._auth.version == "3" else None
            workers = min(self._settings.walk_concurrency, len(jobs))
            async with asyncio.TaskGroup() as group:
                group.create_task(self._worker(first, queue, result))
                for _ in range(workers - 1):
                    group.create_task(self._worker(None, queue, result, engine_id))
        except* _DeviceDownError as eg:
            down = eg.exceptions[0]
        finally:
            self.stats.pdus_sent = sum(s.pdus_sent for s in self._sessions)
        if down is not None:
            raise SnmpProbeError(str(down))
        if self.stats.errors:
            raise SnmpProbeError("; ".join(self.stats.errors))

    async def _open(self, engine_id: bytes | None) -> CountingSession:
        session = open_session(
            self._addr,
            self._port,
            self._auth,
            timeout=self._settings.timeout,
            max_repetitions=self._settings.max_repetitions,
            engine_id=engine_id,
        )
        self._sessions.append(session)
        if self._auth.version == "3":
            await self._retrying("SNMPv3 engine discovery", session.refresh)
        return session

    async def _worker(
        self,
        session: CountingSession | None,
        queue: asyncio.Queue[_Job],
        result: WalkResult,
        engine_id: bytes | None = None,
    ) -> None:
        if queue.empty():
            return
        if session is None:
            session = await self._open(engine_id)
        while not queue.empty():
            job = queue.get_nowait()
            if job.walk:
                await self._walk(session, job.oids[0], result)
            else:
                await self._get(session, job.oids, result)

    async def _retrying(self, what: str, call: Callable[[], Awaitable[T]]) -> T:
        for attempt in range(self._settings.retries + 1):
            try:
                return await call()
            except TimeoutError:
                self.stats.timeouts += 1
                if attempt < self._settings.retries:
                    self.stats.retries += 1
            except NoSuchInstance:
                raise
            except SnmpAuthError as exc:
                raise _DeviceDownError(f"{what}: authentication failed: {exc}") from None
            except (SnmpError, OSError) as exc:
                raise _DeviceDownError(f"{what}: {type(exc).__name__}: {exc}") from None
        raise _DeviceDownError(
            f"{what}: no answer from {self._addr}:{self._port} after "
            f"{self._settings.retries + 1} tries of {self._settings.timeout:g}s"
        )

    async def _get(self, session: CountingSession, oids: list[str], result: WalkResult) -> None:
        try:
            values = await self._retrying(f"GET {oids[0]}…", lambda: session.get_many(oids))
        except NoSuchInstance:
            # SNMPv1 fails a whole PDU when one OID is missing (noSuchName): ask one by one.
            values = {}
            for oid in oids:
                try:
                    values[oid] = await self._retrying(f"GET {oid}", partial(session.get, oid))
                except NoSuchInstance:
                    continue
        self._alive = True
        self.stats.varbinds += len(values)
        for oid, value in values.items():
            result.add_scalar(oid, value)

    async def _walk(self, session: CountingSession, column: str, result: WalkResult) -> None:
        reps = bulk_size(
            self._limits.get(column, self._settings.max_repetitions), self._rows.get(column)
        )
        cut = len(column) + 1
        retries_left = self._settings.retries
        while True:
            bucket = result.start_column(column)
            iterator = session.getbulk(column, reps) if self._bulk else session.getnext(column)
            try:
                async for oid, value in iterator:
                    index = oid[cut:]
                    if index in bucket:
                        self._non_increasing(column, oid)
                        return
                    bucket[index] = value
                    self._alive = True
                self.stats.varbinds += len(bucket)
                self._rows[column] = len(bucket)
                return
            except TimeoutError:
                self.stats.timeouts += 1
                if self._bulk and reps > 1:
                    # Likely a reply too big for one datagram: shrink fast. While the agent
                    # answers other requests, this costs no retry.
                    reps = max(1, reps // 4)
                    self._limits[column] = reps
                    self._log.debug("walk %s: timeout, now max-repetitions %d", column, reps)
                    if self._alive:
                        continue
                if retries_left == 0:
                    break
                retries_left -= 1
                self.stats.retries += 1
            except NoSuchInstance:
                return
            except SnmpDecodeError as exc:
                # gufo-snmp's receive buffer cuts replies past its size ("incomplete"):
                # the agent is alive and the reply too big, so ask for fewer rows.
                if not (self._bulk and reps > 1):
                    self.stats.errors.append(
                        f"walk {column}: a reply of one row cannot be decoded ({exc}): "
                        "larger than gufo-snmp's receive buffer"
                    )
                    return
                reps = max(1, reps // 4)
                self._limits[column] = reps
                self._alive = True
                self._log.debug(
                    "walk %s: undecodable reply (%s), now max-repetitions %d", column, exc, reps
                )
            except SnmpAuthError as exc:
                raise _DeviceDownError(f"walk {column}: authentication failed: {exc}") from None
            except (SnmpError, OSError) as exc:
                self.stats.errors.append(f"walk {column}: {type(exc).__name__}: {exc}")
                return
        raise _DeviceDownError(
            f"walk {column}: no answer from {self._addr}:{self._port} after "
            f"{self._settings.retries + 1} tries of {self._settings.timeout:g}s"
        )

    def _non_increasing(self, column: str, oid: str) -> None:
        message = f"walk {column}: agent returned {oid} twice (OIDs not increasing)"
        if self._settings.allow_nonincreasing_oids:
            self._log.debug("%s; walk ends there", message)
        else:
            self.stats.errors.append(message)
