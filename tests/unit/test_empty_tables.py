"""Tables that were empty: one request checks them before their columns are walked again."""

from __future__ import annotations

import pytest

from chm_exporter.config import CommunityAuth, SnmpSettings
from chm_exporter.errors import SnmpProbeError
from chm_exporter.probelog import ProbeLog
from chm_exporter.snmp.walker import Walker
from chm_exporter.walk import RawValue, WalkPlan, WalkResult
from tests.unit.fakeagent import FakeAgent

IF_DESCR = "1.3.6.1.2.1.2.2.1.2"
IF_OPER = "1.3.6.1.2.1.2.2.1.8"
ENT_ENTRY = "1.3.6.1.2.1.99.1.1.1"
ENT_TYPE = f"{ENT_ENTRY}.1"
ENT_VALUE = f"{ENT_ENTRY}.4"
ENT_STATUS = f"{ENT_ENTRY}.5"
LONE = "1.3.6.1.2.1.25.3.3.1.2"
PLAN = WalkPlan(walks=[IF_DESCR, ENT_TYPE, IF_OPER, ENT_VALUE, ENT_STATUS, LONE])
V1 = CommunityAuth(version="1")


def _values() -> dict[str, RawValue]:
    values: dict[str, RawValue] = {}
    for i in (1, 2):
        values[f"{IF_DESCR}.{i}"] = f"eth{i}".encode()
        values[f"{IF_OPER}.{i}"] = 1
    return values


def _walker(agent: FakeAgent, auth: CommunityAuth | None = None) -> Walker:
    return Walker(
        "192.0.2.1",
        161,
        auth or CommunityAuth(version="2c"),
        SnmpSettings.model_validate({"walk_concurrency": 1}),
        ProbeLog("192.0.2.1", "test"),
        deadline=None,
        connect=agent.connect,
    )


async def _scrape(walker: Walker) -> WalkResult:
    result = WalkResult()
    await walker.run(PLAN, result)
    return result


async def test_an_empty_table_is_checked_with_one_request_and_reads_as_walked() -> None:
    agent = FakeAgent(_values())
    walker = _walker(agent)
    first = await _scrape(walker)
    assert sorted(r.oids[0] for r in agent.requests if r.oids[0].startswith(ENT_ENTRY)) == [
        ENT_TYPE,
        ENT_VALUE,
        ENT_STATUS,
    ]
    agent.requests.clear()
    walker.stats.walks = 0
    second = await _scrape(walker)
    asked = [(r.kind, r.oids[0], r.max_repetitions) for r in agent.requests]
    assert ("bulk", ENT_ENTRY, 1) in asked
    assert not [oid for _, oid, _ in asked if oid.startswith(ENT_ENTRY + ".")]
    # the lone empty column of its table is walked as before: a check would save nothing
    assert [oid for _, oid, _ in asked if oid == LONE] == [LONE]
    assert second.columns == first.columns
    assert second.column(ENT_VALUE) == {}
    assert ENT_VALUE in second.columns
    assert walker.stats.walks == 3  # ifDescr, ifOperStatus, the lone column


async def test_a_table_that_gained_rows_is_walked_column_by_column() -> None:
    agent = FakeAgent(_values())
    walker = _walker(agent)
    await _scrape(walker)
    agent.values[f"{ENT_VALUE}.7"] = 42
    agent.values[f"{ENT_STATUS}.7"] = 1
    agent.requests.clear()
    result = await _scrape(walker)
    asked = [r.oids[0] for r in agent.requests]
    assert ENT_ENTRY in asked
    assert {ENT_TYPE, ENT_VALUE, ENT_STATUS} <= set(asked)
    assert result.column(ENT_VALUE) == {"7": 42}
    assert result.column(ENT_TYPE) == {}
    # rows now: the next scrape walks the columns without a check
    agent.requests.clear()
    await _scrape(walker)
    assert ENT_ENTRY not in [r.oids[0] for r in agent.requests]


async def test_a_table_with_rows_only_in_another_column_is_walked_not_skipped() -> None:
    agent = FakeAgent(_values())
    walker = _walker(agent)
    await _scrape(walker)
    agent.values[f"{ENT_ENTRY}.2.3"] = 9  # a column the plan does not read
    agent.requests.clear()
    result = await _scrape(walker)
    assert {ENT_TYPE, ENT_VALUE, ENT_STATUS} <= {r.oids[0] for r in agent.requests}
    assert result.column(ENT_VALUE) == {}


async def test_v1_checks_with_getnext() -> None:
    agent = FakeAgent(_values(), v1=True)
    walker = _walker(agent, V1)
    first = await _scrape(walker)
    agent.requests.clear()
    second = await _scrape(walker)
    checks = [r for r in agent.requests if r.oids[0] == ENT_ENTRY]
    assert [(r.kind, r.max_repetitions) for r in checks] == [("next", 0)]
    assert second.columns == first.columns


async def test_a_silent_check_is_retried_and_fails_the_walk_as_any_request() -> None:
    agent = FakeAgent(_values())
    walker = _walker(agent)
    await _scrape(walker)
    agent.silent = True
    agent.requests.clear()
    with pytest.raises(SnmpProbeError, match="no answer"):
        await walker.run(WalkPlan(walks=[ENT_TYPE, ENT_VALUE]), WalkResult())
    tries = SnmpSettings().retries + 1
    assert [r.oids[0] for r in agent.requests] == [ENT_ENTRY] * tries
