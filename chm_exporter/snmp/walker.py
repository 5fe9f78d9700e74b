"""Executing a walk plan against one agent: GETs in batches, column walks concurrently.

Each concurrent walk has a client (a UDP socket) of its own, so replies never cross. A walk that
times out is retried from its start with a quarter of the max-repetitions: a reply too big for
one UDP datagram is never sent at all by some agents (snmpsim, with 5.5 kB strings and 50
repetitions), and a smaller bulk is the only cure. What a walk learned is kept per device in
`bulk_limits`.

A column's row count and bytes per row from the previous scrape (`column_rows`,
`column_row_bytes`) size its bulk: as many rows as fit in one reply gufo-snmp can read (its
buffer is 4,080 bytes), at most max-repetitions, evened out over the column: 101 rows at a cap
of 25 are read as 5 requests of 21 rather than 5 of 25, and a 1-row column asks for 2, so few
rows of the next column are decoded only to be thrown away. A column not seen before is asked
at most `FIRST_BULK` rows at a time. A request costs the exporter about as much CPU as some 50
varbinds (docs/benchmarks.md: ~80 us against ~1.5 us), so fewer, fuller replies are most of
what a walk can save.

The walker stops itself: before every request it checks the deadline, and each request waits at
most the time left; after every reply it checks the probe's budget (varbinds and bytes held), so
an agent that answers instantly and forever can neither outlive the deadline nor fill memory.
Clients are closed when :meth:`Walker.run` returns, on every path.

A table whose every planned column was empty in the previous scrape (`column_rows` 0 for each:
ENTITY-SENSOR-MIB on most non-Cisco agents, LLDP-V2-MIB beside LLDP-MIB, a vendor table the
device leaves out) is not walked column by column again: one request for the first object past
the table's entry OID (GETBULK of one repetition, GETNEXT for v1) tells whether the table now
has any row. When it has none, its columns are recorded empty, exactly what walking each would
have given; when it has, its columns are walked as usual. On a net-snmp agent that is 26 of 58
PDUs a scrape saved (six empty tables of 20 columns), each PDU costing the exporter some 60-130
us of CPU. A device's first scrape, and the first after a reboot, walk every column.

Each concurrent walk opens a socket of its own (a client: ~75 us of CPU with its reader's
registration and its closing, per scrape; 8 of them were ~6 % of a 40-PDU scrape). Concurrency
pays only when the agent's round trips, not the work, make the walk long, so a device whose
last walk is known gets no more workers than one per `PDUS_PER_WORKER` of its PDUs and than
its PDUs take at that walk's turnaround per PDU in `WALK_TARGET_SECONDS` (a device answering in
0.4 ms walks 40 PDUs on 1 socket in ~16 ms; one at 10 ms still gets 8). A device not known yet
(its first scrape, the first after a reboot) gets `walk_concurrency`. On a busy exporter the
turnaround includes the event loop's queue, so the walks there keep their concurrency.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from functools import partial
from typing import TypeVar

from chm_exporter.errors import SnmpProbeError
from chm_exporter.probelog import ProbeLog
from chm_exporter.snmp.client import (
    AgentError,
    AuthFailedError,
    ClientError,
    Connect,
    Credentials,
    LibraryPanicError,
    NoSuchNameError,
    RefusedError,
    SnmpClient,
    UndecodableError,
    Varbinds,
    WalkSettings,
)
from chm_exporter.snmp.session import GufoClient
from chm_exporter.walk import RawValue, WalkPlan, WalkResult

GET_BATCH = 20
# What one GETBULK reply may carry, by the walker's estimate of its BER bytes: gufo-snmp reads
# 4,080 bytes (DESIGN.md); the rest is for the message's headers (an SNMPv3 one ~200 bytes)
# and the varbind past the column's end.
REPLY_BUDGET_BYTES = 3_500
# Rows asked at a time (at most max-repetitions) of a column whose rows are not known yet.
FIRST_BULK = 25
# Estimated BER bytes of a row beside its OID and string value: the varbind's, the OID's and
# the value's tags and lengths, and a value that is not a string (a Counter64 takes 9 bytes).
ROW_OVERHEAD_BYTES = 15
# Bytes a varbind is counted for beside its OID and string value (the budget's unit of cost).
VARBIND_OVERHEAD_BYTES = 16
# PDUs a worker (and its socket) is opened for at least, when the plan's PDUs are known.
PDUS_PER_WORKER = 4
# The walk's duration that more workers are opened to stay under, judged from the last walk.
WALK_TARGET_SECONDS = 0.025
T = TypeVar("T")


@dataclass(slots=True)
class WalkStats:
    """Counters of one scrape's SNMP traffic."""

    pdus_sent: int = 0
    retries: int = 0
    timeouts: int = 0
    varbinds: int = 0
    walks: int = 0
    bytes: int = 0
    errors: list[str] = field(default_factory=list)


@dataclass(slots=True)
class _Job:
    oids: list[str]
    walk: bool
    table: str | None = None
    """A table's entry OID: check it has rows before walking `oids` (its columns)."""


class _StopError(Exception):
    """A worker ends the whole walk: the others stop taking jobs."""


class _DeviceDownError(_StopError):
    """A request failed after every retry, or the agent refused, or the library panicked."""


class _NoSocketError(_DeviceDownError):
    """No socket could be opened (the process is out of descriptors)."""


class _DeadlineReachedError(_StopError):
    """The deadline came before the next request."""


def _value_size(value: object) -> int:
    return len(value) if isinstance(value, bytes | str) else 0


def row_bytes(last_oid: str, string_bytes: int, rows: int) -> int:
    """Estimated BER bytes per row of a reply of `rows` rows: the last (longest) OID at half
    its text (an arc of 1-3 digits and its dot take 1-2 bytes), the mean string value, the
    overhead."""
    return (len(last_oid) + 3) // 2 + string_bytes // rows + ROW_OVERHEAD_BYTES


def bulk_size(cap: int, rows: int | None, bytes_per_row: int | None = None) -> int:
    """Max-repetitions for a column of `rows` rows (unknown: the cap) of `bytes_per_row`: the
    fewest requests that the cap and a reply's budget allow, sized evenly, counting the one
    varbind past the column's end."""
    if bytes_per_row is not None:
        cap = max(1, min(cap, REPLY_BUDGET_BYTES // bytes_per_row))
    if rows is None:
        return cap
    needed = rows + 1
    requests = -(-needed // cap)
    return max(1, -(-needed // requests))


class Walker:
    """Runs plans against one agent and fills :class:`WalkResult` objects.

    Args:
        deadline: event-loop time after which no request is sent (None: none).
        connect: opens a client to the agent (default: gufo-snmp to `addr`:`port`).
        expected_pdus: the PDUs a plan took last time (None: not known), to open no more
            sockets than that work needs.
        pdu_seconds: the last walk's time per PDU and worker (:attr:`pdu_seconds`).

    Attributes:
        pdu_seconds: after :meth:`run` returned: its wall time times its workers over its
            PDUs, the turnaround of a request (None: the run failed or sent nothing).
    """

    def __init__(
        self,
        addr: str,
        port: int,
        auth: Credentials,
        settings: WalkSettings,
        log: ProbeLog,
        bulk_limits: MutableMapping[str, int] | None = None,
        column_rows: MutableMapping[str, int] | None = None,
        column_row_bytes: MutableMapping[str, int] | None = None,
        *,
        deadline: float | None = None,
        connect: Connect | None = None,
        expected_pdus: int | None = None,
        pdu_seconds: float | None = None,
    ) -> None:
        self._where = f"{addr}:{port}"
        self._v3 = auth.version == "3"
        self._settings = settings
        self._log = log
        self._limits: MutableMapping[str, int] = bulk_limits if bulk_limits is not None else {}
        self._rows: MutableMapping[str, int] = column_rows if column_rows is not None else {}
        self._row_bytes: MutableMapping[str, int] = (
            column_row_bytes if column_row_bytes is not None else {}
        )
        self._bulk = settings.walk == "bulk" and auth.version != "1"
        self._deadline = deadline
        self._expected_pdus = expected_pdus
        self._last_pdu_seconds = pdu_seconds
        self.pdu_seconds: float | None = None
        self._connect: Connect = connect or partial(
            GufoClient, addr, port, auth, settings.max_repetitions
        )
        self._alive = False  # the agent answered something in this scrape
        self._held = 0  # varbinds received (the budget's count; retried walks count again)
        self.stats = WalkStats()

    async def run(self, plan: WalkPlan, result: WalkResult) -> None:
        """Read everything in `plan` into `result`; values arrive in `result` as they come.

        Raises:
            TimeoutError: the deadline came first.
            SnmpProbeError: the agent did not answer, refused, sent garbage, or the budget
                was exceeded. Whatever was read before stays in `result`.
        """
        jobs = [
            _Job(plan.gets[i : i + GET_BATCH], False) for i in range(0, len(plan.gets), GET_BATCH)
        ]
        jobs += self._walk_jobs(plan.walks)
        if not jobs:
            return
        queue: asyncio.Queue[_Job] = asyncio.Queue()
        for job in jobs:
            queue.put_nowait(job)
        clients: list[SnmpClient] = []
        stop: _StopError | None = None
        self.pdu_seconds = None
        started = time.monotonic()
        try:
            first = await self._open(None, clients)
            engine_id = first.engine_id() if self._v3 else None
            workers = self._workers(len(jobs))
            self._log.debug("snmp: %d requests or walks on %d sockets", len(jobs), workers)
            async with asyncio.TaskGroup() as group:
                group.create_task(self._worker(first, queue, result, clients))
                for _ in range(workers - 1):
                    group.create_task(self._worker(None, queue, result, clients, engine_id))
        except* _StopError as eg:
            stop = eg.exceptions[0]  # type: ignore[assignment]  # except* narrows to Exception
            # Python 3.11's TaskGroup raises its error group from a frame that holds it: a
            # reference cycle. Without their tracebacks, the errors in it do not keep the
            # workers' frames (and the sockets some hold) until a garbage collection.
            for error in eg.exceptions:
                error.__traceback__ = None
        finally:
            for client in clients:
                client.close()
            pdus = sum(c.pdus_sent for c in clients)
            self.stats.pdus_sent += pdus
        if isinstance(stop, _DeadlineReachedError):
            raise TimeoutError(str(stop))
        if stop is not None:
            raise SnmpProbeError(str(stop))
        if self.stats.errors:
            raise SnmpProbeError("; ".join(self.stats.errors))
        if pdus:
            self.pdu_seconds = (time.monotonic() - started) * len(clients) / pdus

    def _workers(self, jobs: int) -> int:
        """Concurrent walks for `jobs` jobs: `walk_concurrency` at most; when the last walk
        is known, one per `PDUS_PER_WORKER` of its PDUs at most, and no more than its PDUs
        take at its turnaround in `WALK_TARGET_SECONDS`."""
        workers = min(self._settings.walk_concurrency, jobs)
        pdus = self._expected_pdus
        if pdus is not None:
            cap = -(-pdus // PDUS_PER_WORKER)
            if self._last_pdu_seconds is not None:
                cap = min(cap, math.ceil(pdus * self._last_pdu_seconds / WALK_TARGET_SECONDS))
            workers = min(workers, max(1, cap))
        return workers

    async def _open(self, engine_id: bytes | None, clients: list[SnmpClient]) -> SnmpClient:
        try:
            client = self._connect(engine_id)
        except OSError as exc:  # EMFILE, ENFILE, ENOBUFS: no socket for this walk
            raise _NoSocketError(f"cannot open a UDP socket: {exc.strerror or exc}") from None
        clients.append(client)
        if self._v3:
            await self._retrying("SNMPv3 engine discovery", client.discover)
        return client

    async def _worker(
        self,
        client: SnmpClient | None,
        queue: asyncio.Queue[_Job],
        result: WalkResult,
        clients: list[SnmpClient],
        engine_id: bytes | None = None,
    ) -> None:
        if queue.empty():
            return
        if client is None:
            try:
                client = await self._open(engine_id, clients)
            except _NoSocketError as exc:  # the other workers take the jobs: fewer in parallel
                self._log.warning("snmp: one walk fewer in parallel: %s", exc)
                return
        while not queue.empty():
            job = queue.get_nowait()
            if job.table is not None:
                await self._walk_table(client, job.table, job.oids, result)
            elif job.walk:
                await self._walk(client, job.oids[0], result)
            else:
                await self._get(client, job.oids, result)

    def _walk_jobs(self, columns: list[str]) -> list[_Job]:
        """A job per column, except for tables whose every column was empty last time: a
        job per such table, to check it is still empty before walking its columns."""
        tables: dict[str, list[str]] = {}
        for column in columns:
            tables.setdefault(column.rpartition(".")[0], []).append(column)
        jobs: list[_Job] = []
        for entry, cols in tables.items():
            if len(cols) > 1 and all(self._rows.get(c) == 0 for c in cols):
                jobs.append(_Job(cols, True, entry))
            else:
                self.stats.walks += len(cols)
                jobs += [_Job([c], True) for c in cols]
        return jobs

    async def _walk_table(
        self, client: SnmpClient, entry: str, columns: list[str], result: WalkResult
    ) -> None:
        """Walk the columns of a table that was empty last time, if it has a row now."""
        if not await self._table_has_rows(client, entry):
            for column in columns:
                result.start_column(column)
            return
        self._log.debug("walk %s: the table has rows again", entry)
        self.stats.walks += len(columns)
        for column in columns:
            await self._walk(client, column, result)

    async def _table_has_rows(self, client: SnmpClient, entry: str) -> bool:
        """Whether the agent has any object under `entry` (one request for the first one).

        An error other than a timeout answers True: the columns' own walks then meet it and
        report it as they always do.
        """
        found: list[bool] = []

        def take(rows: Varbinds) -> bool:
            found.append(bool(rows))
            return False

        async def ask(wait: float) -> None:
            await client.walk(entry, 1 if self._bulk else 0).run(take, lambda: wait)

        try:
            await self._retrying(
                f"walk {entry}", ask, (NoSuchNameError, AgentError, UndecodableError)
            )
        except NoSuchNameError:  # v1: GETNEXT past the last instance
            return False
        except (AgentError, UndecodableError):
            return True
        self._alive = True
        return any(found)

    def _timeout(self) -> float:
        """The next request's timeout: the configured one, or the time left if shorter.

        Raises:
            _DeadlineReachedError: no time is left.
        """
        if self._deadline is None:
            return self._settings.timeout
        left = self._deadline - time.monotonic()  # the event loop's clock
        if left <= 0:
            raise _DeadlineReachedError(f"deadline reached; {self.stats.pdus_sent} PDUs done")
        return min(self._settings.timeout, left)

    def _account(self, varbinds: int, size: int) -> None:
        """Count what arrived (`varbinds` holding `size` bytes) against the probe's budget.

        Raises:
            _DeviceDownError: more varbinds or bytes than the settings allow.
        """
        stats = self.stats
        self._held += varbinds
        stats.bytes += size + varbinds * VARBIND_OVERHEAD_BYTES
        if self._held > self._settings.max_varbinds or stats.bytes > self._settings.max_bytes:
            raise _DeviceDownError(
                f"budget exceeded: {self._held} varbinds, {stats.bytes} bytes (max_varbinds "
                f"{self._settings.max_varbinds}, max_bytes {self._settings.max_bytes})"
            )

    def _down(self, what: str, exc: ClientError) -> _DeviceDownError:
        """The reason a client error ends the whole walk."""
        if isinstance(exc, RefusedError):
            return _DeviceDownError(
                f"{what}: {self._where} refused (ICMP port unreachable: no agent listens there)"
            )
        if isinstance(exc, AuthFailedError):
            return _DeviceDownError(f"{what}: authentication failed: {exc}")
        if isinstance(exc, LibraryPanicError):
            return _DeviceDownError(f"SNMP library panic on a malformed reply: {exc}")
        return _DeviceDownError(f"{what}: {type(exc).__name__}: {exc}")

    async def _retrying(
        self,
        what: str,
        call: Callable[[float], Awaitable[T]],
        passed_on: tuple[type[ClientError], ...] = (NoSuchNameError,),
    ) -> T:
        for attempt in range(self._settings.retries + 1):
            try:
                return await call(self._timeout())
            except TimeoutError:
                self.stats.timeouts += 1
                if attempt < self._settings.retries:
                    self.stats.retries += 1
            except passed_on:
                raise
            except ClientError as exc:
                raise self._down(what, exc) from None
        raise _DeviceDownError(
            f"{what}: no answer from {self._where} after "
            f"{self._settings.retries + 1} tries of {self._settings.timeout:g}s"
        )

    async def _get(self, client: SnmpClient, oids: list[str], result: WalkResult) -> None:
        values = await self._get_values(client, oids)
        self._alive = True
        self._account(len(values), sum(len(oid) + _value_size(v) for oid, v in values.items()))
        self.stats.varbinds += len(values)
        for oid, value in values.items():
            result.add_scalar(oid, value)

    async def _get_values(self, client: SnmpClient, oids: list[str]) -> dict[str, RawValue]:
        """The values of `oids`; a reply too big to decode is asked again in halves (gufo-snmp
        decodes at most 4,080 bytes), and a single value that still does not fit is left out
        with the reason, so one oversized value never costs the rest of the probe."""
        try:
            return await self._retrying(
                f"GET {oids[0]}…",
                partial(client.get_many, oids),
                (NoSuchNameError, UndecodableError),
            )
        except UndecodableError as exc:
            if len(oids) == 1:
                self.stats.errors.append(f"GET {oids[0]}: the reply cannot be decoded ({exc})")
                return {}
            self._alive = True
            half = len(oids) // 2
            first = await self._get_values(client, oids[:half])
            return {**first, **await self._get_values(client, oids[half:])}
        except NoSuchNameError:
            # SNMPv1 fails a whole PDU when one OID is missing (noSuchName): ask one by one.
            values: dict[str, RawValue] = {}
            for oid in oids:
                try:
                    values[oid] = await self._retrying(f"GET {oid}", partial(client.get, oid))
                except NoSuchNameError:
                    continue
            return values

    async def _walk(self, client: SnmpClient, column: str, result: WalkResult) -> None:
        known = self._row_bytes.get(column)
        cap = self._limits.get(column, self._settings.max_repetitions)
        reps = bulk_size(cap if known else min(cap, FIRST_BULK), self._rows.get(column), known)
        retries_left = self._settings.retries
        while True:
            rows = _ColumnRows(self, column, result.start_column(column))
            try:
                await client.walk(column, reps if self._bulk else 0).run(rows.take, self._timeout)
                self.stats.varbinds += len(rows.bucket)
                self._rows[column] = len(rows.bucket)
                if rows.widest:
                    self._row_bytes[column] = rows.widest
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
            except NoSuchNameError:
                return
            except UndecodableError as exc:
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
            except AgentError as exc:
                self.stats.errors.append(f"walk {column}: {exc}")
                return
            except ClientError as exc:
                raise self._down(f"walk {column}", exc) from None
        raise _DeviceDownError(
            f"walk {column}: no answer from {self._where} after "
            f"{self._settings.retries + 1} tries of {self._settings.timeout:g}s"
        )

    def _non_increasing(self, column: str, oid: str) -> None:
        message = f"walk {column}: agent returned {oid} twice (OIDs not increasing)"
        if self._settings.allow_nonincreasing_oids:
            self._log.debug("%s; walk ends there", message)
        else:
            self.stats.errors.append(message)


class _ColumnRows:
    """A column's rows as its replies bring them (:meth:`take`, from the client's walk): into
    the result's bucket, counted against the walker's budget, the widest reply's bytes per row
    kept to size the next scrape's bulk."""

    __slots__ = ("_column", "_cut", "_walker", "bucket", "widest")

    def __init__(self, walker: Walker, column: str, bucket: dict[str, RawValue]) -> None:
        self._walker = walker
        self._column = column
        self._cut = len(column) + 1
        self.bucket = bucket
        self.widest = 0

    def take(self, rows: Varbinds) -> bool:
        """Keep a reply's rows; False when the agent repeated an OID (the walk ends there).

        Raises:
            _DeviceDownError: the probe's budget is exceeded.
        """
        walker, bucket, cut = self._walker, self.bucket, self._cut
        walker._alive = True
        more = True
        size = 0
        for oid, value in rows:
            index = oid[cut:]
            if index in bucket:
                walker._non_increasing(self._column, oid)
                more = False
                break
            bucket[index] = value
            if value.__class__ is bytes or value.__class__ is str:
                size += len(value)
        count = len(rows)
        # OIDs counted as the column's length plus an index of up to 8 bytes
        walker._account(count, size + count * (cut + 8))
        if count:
            self.widest = max(self.widest, row_bytes(rows[-1][0], size, count))
        return more
