"""A recording fake SNMP agent behind the client seam (:mod:`chm_exporter.snmp.client`).

It serves a dict of OID → value and records every request (kind, OIDs, max-repetitions,
timeout). Behaviours a real agent is hard to make show on demand: replies too big to arrive
(timeouts) or to decode, SNMPv1's noSuchName, a closed port, a library panic, a column that
never ends or repeats its OIDs, silence. Unit tests only; the real agents are in
tests/integration.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Literal

import pytest

from chm_exporter import probers
from chm_exporter.config import CommunityAuth, SnmpSettings, UsmAuth
from chm_exporter.probers import snmp as snmp_prober
from chm_exporter.snmp.client import (
    LibraryPanicError,
    NoSuchNameError,
    RefusedError,
    SnmpClient,
    UndecodableError,
    Varbinds,
)
from chm_exporter.walk import RawValue

Kind = Literal["get", "get_many", "bulk", "next", "discover"]


@dataclass(frozen=True, slots=True)
class Request:
    """One request PDU as the fake received it."""

    kind: Kind
    oids: tuple[str, ...]
    max_repetitions: int = 0
    timeout: float = 0.0


def _key(oid: str) -> tuple[int, ...]:
    return tuple(int(p) for p in oid.split("."))


@dataclass
class FakeAgent:
    """The agent; :meth:`connect` is the walker's client factory."""

    values: dict[str, RawValue] = field(default_factory=dict)
    v1: bool = False
    max_reply_varbinds: int | None = None
    too_big: Literal["timeout", "undecodable"] = "timeout"
    max_get_bytes: int | None = None
    """A GET reply whose values hold more bytes than this is undecodable (gufo's 4,080)."""
    refuse: bool = False
    silent: bool = False
    panic_on: str | None = None
    endless: str | None = None
    repeating: str | None = None
    latency: float | None = None
    """Seconds a column walk's reply takes (None: it comes without yielding to the loop)."""
    requests: list[Request] = field(default_factory=list)
    opened: int = 0
    closed: int = 0

    def connect(self, engine_id: bytes | None) -> SnmpClient:
        """A new client (one 'socket')."""
        self.opened += 1
        return FakeClient(self)

    def factory(
        self, addr: str, port: int, auth: CommunityAuth | UsmAuth, settings: SnmpSettings
    ) -> Callable[[bytes | None], SnmpClient]:
        """The SNMP prober's connect factory, serving every target from this agent."""
        return self.connect

    def asked(self, kind: Kind | None = None) -> list[Request]:
        """The requests of one kind (all when None), in order."""
        return [r for r in self.requests if kind is None or r.kind == kind]

    def serve(self, kind: Kind, oids: Sequence[str], reps: int, timeout: float) -> None:
        """Record a request and fail it as the behaviours say."""
        self.requests.append(Request(kind, tuple(oids), reps, timeout))
        if self.refuse:
            raise RefusedError("connection refused")
        if self.silent:
            raise TimeoutError
        if self.panic_on is not None and self.panic_on in oids:
            raise LibraryPanicError("index out of bounds: the len is 3 but the index is 3")
        if self.max_reply_varbinds is not None and reps > self.max_reply_varbinds:
            if self.too_big == "timeout":
                raise TimeoutError
            raise UndecodableError("incomplete")

    def after(self, column: str, last: str | None, count: int) -> tuple[Varbinds, bool]:
        """Up to `count` rows of `column` after `last`, and whether the column goes on."""
        if column == self.endless:
            start = int(last.rsplit(".", 1)[1]) if last else 0
            return [(f"{column}.{start + i + 1}", start + i + 1) for i in range(count)], True
        if column == self.repeating:
            return [(f"{column}.1", 1)] * count, True
        prefix = column + "."
        floor = _key(last or column)
        rows = sorted(
            ((oid, v) for oid, v in self.values.items() if oid.startswith(prefix)),
            key=lambda item: _key(item[0]),
        )
        rows = [r for r in rows if _key(r[0]) > floor]
        return rows[:count], len(rows) > count


class FakeClient:
    """One client of the fake agent."""

    def __init__(self, agent: FakeAgent) -> None:
        self._agent = agent
        self._closed = False
        self.pdus_sent = 0

    async def discover(self, wait: float) -> None:
        """Record a discovery."""
        self._request("discover", (), 0, wait)

    def engine_id(self) -> bytes | None:
        """No engine."""
        return None

    async def get_many(self, oids: Sequence[str], wait: float) -> dict[str, RawValue]:
        """The values the agent has; SNMPv1 fails the PDU on a missing one."""
        self._request("get_many", oids, 0, wait)
        values = self._agent.values
        if self._agent.v1 and any(oid not in values for oid in oids):
            raise NoSuchNameError()
        found = {oid: values[oid] for oid in oids if oid in values}
        limit = self._agent.max_get_bytes
        if limit is not None and sum(len(str(v)) for v in found.values()) > limit:
            raise UndecodableError("incomplete")
        return found

    async def get(self, oid: str, wait: float) -> RawValue:
        """One value, or NoSuchNameError."""
        self._request("get", (oid,), 0, wait)
        if oid not in self._agent.values:
            raise NoSuchNameError()
        return self._agent.values[oid]

    def walk(self, column: str, max_repetitions: int) -> FakeColumnWalk:
        """A walk of `column`."""
        return FakeColumnWalk(self, column, max_repetitions)

    def close(self) -> None:
        """Counted once."""
        if not self._closed:
            self._closed = True
            self._agent.closed += 1

    def _request(self, kind: Kind, oids: Sequence[str], reps: int, wait: float) -> None:
        assert not self._closed, "request on a closed client"
        self.pdus_sent += 1
        self._agent.serve(kind, oids, reps, wait)


class FakeColumnWalk:
    """A column walk on the fake; answers at once (never yields to the event loop)."""

    def __init__(self, client: FakeClient, column: str, max_repetitions: int) -> None:
        self._client = client
        self._column = column
        self._reps = max_repetitions
        self._last: str | None = None

    async def run(self, take: Callable[[Varbinds], bool], wait: Callable[[], float]) -> None:
        """Ask for the rows after the last one read until the column ends or `take` says so."""
        kind: Kind = "bulk" if self._reps else "next"
        more = True
        while more:
            self._client._request(kind, (self._last or self._column,), self._reps, wait())
            if self._client._agent.latency is not None:
                await asyncio.sleep(self._client._agent.latency)
            rows, more = self._client._agent.after(self._column, self._last, self._reps or 1)
            if not self._reps:  # GETNEXT learns of the column's end only from the next reply
                more = bool(rows)
            if rows:
                self._last = rows[-1][0]
            more = take(rows) and more


def values_of(pairs: Mapping[str, RawValue]) -> dict[str, RawValue]:
    """A copy of the agent's values (tests change it between probes)."""
    return dict(pairs)


def serve_snmp_from(agent: FakeAgent, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the SNMP prober talk to `agent` (for every target) instead of gufo-snmp."""
    real = probers.PROBERS["snmp"]
    collect = partial(snmp_prober.collect, connect=agent.factory)
    monkeypatch.setitem(
        probers.PROBERS,
        "snmp",
        probers.Prober(
            real.settings, real.new_raw, collect, real.emit, real.credentials, real.merge
        ),
    )
