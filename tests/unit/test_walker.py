"""The walker against a recording fake agent: which OIDs it asks, in what order, how often,
and how it stops (deadline, budget, refusal, panic), closing every client on every path."""

from __future__ import annotations

import asyncio
import time
from typing import Literal

import pytest

from chm_exporter.config import CommunityAuth, SnmpSettings
from chm_exporter.errors import SnmpProbeError
from chm_exporter.probelog import ProbeLog
from chm_exporter.snmp.walker import GET_BATCH, Walker, row_bytes
from chm_exporter.walk import RawValue, WalkPlan, WalkResult
from tests.unit.fakeagent import FakeAgent

IF_DESCR = "1.3.6.1.2.1.2.2.1.2"
IF_OPER = "1.3.6.1.2.1.2.2.1.8"
SYS_NAME = "1.3.6.1.2.1.1.5.0"
ENDLESS = "1.3.6.1.4.1.99999.1.1"
V2C = CommunityAuth(version="2c")
V1 = CommunityAuth(version="1")


def _device(rows: int = 5) -> dict[str, RawValue]:
    values: dict[str, RawValue] = {SYS_NAME: b"sw1"}
    for i in range(1, rows + 1):
        values[f"{IF_DESCR}.{i}"] = f"eth{i}".encode()
        values[f"{IF_OPER}.{i}"] = 1
    return values


def _walker(
    agent: FakeAgent,
    auth: CommunityAuth = V2C,
    deadline: float | None = None,
    limits: dict[str, int] | None = None,
    **settings: object,
) -> Walker:
    return Walker(
        "192.0.2.1",
        161,
        auth,
        SnmpSettings.model_validate({"walk_concurrency": 1, **settings}),
        ProbeLog("192.0.2.1", "test"),
        limits,
        deadline=deadline,
        connect=agent.connect,
    )


async def test_gets_are_batched_and_columns_walked_with_bulk_in_plan_order() -> None:
    agent = FakeAgent(_device())
    gets = [SYS_NAME, *(f"1.3.6.1.2.1.1.{i}.0" for i in range(100, 100 + GET_BATCH))]
    result = WalkResult()
    await _walker(agent, max_repetitions=25).run(WalkPlan(gets, [IF_DESCR, IF_OPER]), result)
    kinds = [(r.kind, r.oids[0], r.max_repetitions) for r in agent.requests]
    assert kinds == [
        ("get_many", SYS_NAME, 0),
        ("get_many", gets[GET_BATCH], 0),
        ("bulk", IF_DESCR, 25),
        ("bulk", IF_OPER, 25),
    ]
    assert result.column(IF_DESCR)["3"] == b"eth3"
    assert result.column(SYS_NAME) == {"": b"sw1"}
    assert agent.opened == agent.closed == 1


async def test_row_counts_size_the_next_bulk_and_rows_continue_after_the_last() -> None:
    agent = FakeAgent(_device(rows=30))
    walker = _walker(agent, max_repetitions=25)
    await walker.run(WalkPlan(walks=[IF_DESCR]), WalkResult())
    assert [r.oids[0] for r in agent.requests] == [IF_DESCR, f"{IF_DESCR}.25"]
    agent.requests.clear()
    await walker.run(WalkPlan(walks=[IF_DESCR]), WalkResult())
    # 30 rows known: two requests of 16 (31 varbinds with the end), not 25 + 25
    assert [r.max_repetitions for r in agent.requests] == [16, 16]


async def test_bytes_per_row_size_the_next_bulk_to_fit_one_reply() -> None:
    values: dict[str, RawValue] = {}
    for i in range(1, 31):
        values[f"{IF_DESCR}.{i}"] = b"x" * 200  # ~227 bytes a row: 15 fit a reply's 3,500
        values[f"{IF_OPER}.{i}"] = 1  # ~27 bytes a row: the whole column fits
    agent = FakeAgent(values)
    walker = _walker(agent, max_repetitions=60)
    await walker.run(WalkPlan(walks=[IF_DESCR, IF_OPER]), WalkResult())
    # columns not seen before: 25 rows a request, whatever max_repetitions allows
    assert [(r.oids[0], r.max_repetitions) for r in agent.requests] == [
        (IF_DESCR, 25),
        (f"{IF_DESCR}.25", 25),
        (IF_OPER, 25),
        (f"{IF_OPER}.25", 25),
    ]
    agent.requests.clear()
    result = WalkResult()
    await walker.run(WalkPlan(walks=[IF_DESCR, IF_OPER]), result)
    assert [(r.oids[0], r.max_repetitions) for r in agent.requests] == [
        (IF_DESCR, 11),  # 31 varbinds with the end, 15 a reply: 3 requests of 11
        (f"{IF_DESCR}.11", 11),
        (f"{IF_DESCR}.22", 11),
        (IF_OPER, 31),  # under the cap of 60: one request
    ]
    assert len(result.column(IF_DESCR)) == len(result.column(IF_OPER)) == 30


def test_the_estimated_bytes_of_a_row_are_at_least_its_ber_encoding() -> None:
    # a Counter64 in IF-MIB's ifHCInOctets: SEQUENCE (2) + OID (2 + 12) + Counter64 (2 + 9)
    assert row_bytes("1.3.6.1.2.1.31.1.1.1.6.1000", 0, 1) >= 2 + 2 + 12 + 2 + 9
    # a 64-byte ifAlias of row 1000: SEQUENCE (2) + OID (2 + 12) + OCTET STRING (2 + 64)
    assert row_bytes("1.3.6.1.2.1.31.1.1.1.18.1000", 64 * 3, 3) >= 2 + 2 + 12 + 2 + 64
    # an index of IP address arcs of 2 bytes each (ipAdEntIfIndex.192.168.200.254)
    assert row_bytes("1.3.6.1.2.1.4.20.1.2.192.168.200.254", 0, 1) >= 2 + 2 + 17 + 2 + 9


@pytest.mark.parametrize("too_big", ["timeout", "undecodable"])
async def test_a_reply_too_big_shrinks_the_bulk_and_is_remembered(
    too_big: Literal["timeout", "undecodable"],
) -> None:
    agent = FakeAgent(_device(rows=8), max_reply_varbinds=6, too_big=too_big)
    limits: dict[str, int] = {}
    result = WalkResult()
    await _walker(agent, limits=limits, max_repetitions=25).run(
        WalkPlan([SYS_NAME], [IF_DESCR]), result
    )
    assert [r.max_repetitions for r in agent.asked("bulk")] == [25, 6, 6]
    assert limits == {IF_DESCR: 6}
    assert len(result.column(IF_DESCR)) == 8


async def test_snmpv1_walks_with_getnext_and_gets_one_by_one_after_nosuchname() -> None:
    agent = FakeAgent(_device(rows=2), v1=True)
    missing = "1.3.6.1.2.1.1.99.0"
    result = WalkResult()
    await _walker(agent, auth=V1).run(WalkPlan([SYS_NAME, missing], [IF_DESCR]), result)
    assert [(r.kind, r.oids) for r in agent.requests] == [
        ("get_many", (SYS_NAME, missing)),
        ("get", (SYS_NAME,)),
        ("get", (missing,)),
        ("next", (IF_DESCR,)),
        ("next", (f"{IF_DESCR}.1",)),
        ("next", (f"{IF_DESCR}.2",)),
    ]
    assert result.column(SYS_NAME) == {"": b"sw1"}
    assert missing not in result.columns
    assert len(result.column(IF_DESCR)) == 2


async def test_silence_is_retried_then_reported() -> None:
    agent = FakeAgent(_device(), silent=True)
    walker = _walker(agent, retries=2, timeout=0.5)
    with pytest.raises(SnmpProbeError, match=r"no answer from 192\.0\.2\.1:161 after 3 tries"):
        await walker.run(WalkPlan([SYS_NAME]), WalkResult())
    assert len(agent.requests) == 3
    assert (walker.stats.timeouts, walker.stats.retries) == (3, 2)
    assert agent.opened == agent.closed


async def test_a_refused_port_fails_at_once_without_retries() -> None:
    agent = FakeAgent(_device(), refuse=True)
    with pytest.raises(SnmpProbeError, match=r"refused \(ICMP port unreachable"):
        await _walker(agent, retries=2).run(WalkPlan([SYS_NAME], [IF_DESCR]), WalkResult())
    assert len(agent.requests) == 1
    assert agent.opened == agent.closed


async def test_a_library_panic_is_a_failed_walk_with_its_reason() -> None:
    agent = FakeAgent(_device(), panic_on=IF_OPER)
    result = WalkResult()
    with pytest.raises(SnmpProbeError, match="SNMP library panic on a malformed reply"):
        await _walker(agent).run(WalkPlan([SYS_NAME], [IF_DESCR, IF_OPER]), result)
    assert len(result.column(IF_DESCR)) == 5  # what came before stays
    assert agent.opened == agent.closed


async def test_an_agent_answering_instantly_forever_is_stopped_at_the_deadline() -> None:
    agent = FakeAgent(_device(), endless=ENDLESS)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 0.3
    walker = _walker(agent, deadline=deadline, max_repetitions=10, timeout=2.0)
    result = WalkResult()
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        await walker.run(WalkPlan(walks=[ENDLESS]), result)
    elapsed = time.monotonic() - started
    assert elapsed < 0.3 + 0.1, (elapsed, len(result.column(ENDLESS)))
    assert len(result.column(ENDLESS)) > 10  # partial rows are kept
    # every request waited at most the time left, never the configured 2 s
    assert all(r.timeout <= 0.3 for r in agent.requests)
    assert agent.opened == agent.closed


async def test_an_endless_table_is_bounded_by_the_varbind_budget() -> None:
    agent = FakeAgent(_device(), endless=ENDLESS)
    walker = _walker(agent, max_repetitions=40, max_varbinds=1000)
    result = WalkResult()
    with pytest.raises(SnmpProbeError, match="budget exceeded"):
        await walker.run(WalkPlan(walks=[ENDLESS]), result)
    assert len(agent.requests) == 41  # 1000 varbinds in requests of 25 are allowed, 1025 not
    assert len(result.column(ENDLESS)) <= 1000 + 25  # at most one reply past the budget


async def test_the_byte_budget_counts_values() -> None:
    values: dict[str, RawValue] = {f"{IF_DESCR}.{i}": b"x" * 1000 for i in range(1, 50)}
    agent = FakeAgent(values)
    with pytest.raises(SnmpProbeError, match="budget exceeded"):
        await _walker(agent, max_repetitions=10, max_bytes=20_000).run(
            WalkPlan(walks=[IF_DESCR]), WalkResult()
        )
    assert len(agent.requests) == 2


@pytest.mark.parametrize("allow", [False, True])
async def test_an_agent_repeating_an_oid_ends_the_walk(allow: bool) -> None:
    agent = FakeAgent(_device(), repeating=ENDLESS)
    walker = _walker(agent, allow_nonincreasing_oids=allow)
    result = WalkResult()
    if allow:
        await walker.run(WalkPlan(walks=[ENDLESS]), result)
    else:
        with pytest.raises(SnmpProbeError, match="OIDs not increasing"):
            await walker.run(WalkPlan(walks=[ENDLESS]), result)
    assert len(agent.requests) == 1
    assert result.column(ENDLESS) == {"1": 1}


async def test_a_get_reply_too_big_to_decode_is_asked_again_in_halves() -> None:
    values: dict[str, RawValue] = {f"1.3.6.1.2.1.1.{i}.0": b"x" * 1000 for i in range(1, 9)}
    values["1.3.6.1.2.1.1.9.0"] = b"y" * 5000  # alone still too big: left out, with the reason
    agent = FakeAgent(values, max_get_bytes=4080)
    result = WalkResult()
    with pytest.raises(SnmpProbeError, match=r"GET 1\.3\.6\.1\.2\.1\.1\.9\.0: the reply cannot"):
        await _walker(agent).run(WalkPlan(gets=sorted(values)), result)
    assert {oid for oid in values if oid.endswith(".9.0")} == set(values) - set(result.columns)
    sizes = [len(r.oids) for r in agent.asked("get_many")]
    assert sizes[0] == 9
    assert max(sizes[1:]) <= 5  # 9 → 4 + 5 → …
    assert all(result.column(oid)[""] == values[oid] for oid in result.columns)


@pytest.mark.parametrize(
    ("expected_pdus", "pdu_seconds", "opened"),
    [
        (None, None, 8),  # nothing known: walk_concurrency
        (1, None, 1),
        (4, None, 1),
        (5, None, 2),
        (12, None, 3),  # one socket per 4 PDUs
        (1000, None, 8),
        (40, 0.0004, 1),  # a near agent: 40 PDUs take 16 ms on one socket
        (40, 0.001, 2),
        (40, 0.01, 8),  # 10 ms a round trip: as many as the PDUs allow
        (12, 0.01, 3),
    ],
)
async def test_the_last_walk_sizes_the_sockets_opened(
    expected_pdus: int | None, pdu_seconds: float | None, opened: int
) -> None:
    columns = [f"1.3.6.1.2.1.2.2.1.{i}" for i in range(1, 11)]
    device: dict[str, RawValue] = {f"{c}.{r}": r for c in columns for r in (1, 2)}
    agent = FakeAgent(device, latency=0.0)  # the workers' walks interleave
    walker = Walker(
        "192.0.2.1",
        161,
        V2C,
        SnmpSettings.model_validate({"walk_concurrency": 8}),
        ProbeLog("192.0.2.1", "test"),
        connect=agent.connect,
        expected_pdus=expected_pdus,
        pdu_seconds=pdu_seconds,
    )
    result = WalkResult()
    await walker.run(WalkPlan(walks=columns), result)
    assert agent.opened == agent.closed == opened
    assert walker.pdu_seconds is not None
    assert all(result.column(c) == {"1": 1, "2": 2} for c in columns)
