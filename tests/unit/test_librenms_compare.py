"""The rules of the LibreNMS comparison (tests/integration/librenms.py), on small cases."""

from __future__ import annotations

from collections import defaultdict

import pytest

from tests.integration import librenms
from tests.integration.exposition import SampleKey
from tests.integration.librenms import Expected, Observed, Outcome, Waiver


@pytest.mark.parametrize(
    ("ours", "theirs", "agree"),
    [
        ("16.12.4", "CAT9K_LITE_IOSXE 16.12.4", True),
        ("5.4.4", "v5.4.4,build7650,170529 (GA)", True),
        ("WS-C2960X-48FPS-L", "ws-c2960x-48fps-l", True),
        ("16.12", "CAT9K_LITE_IOSXE 16.12.4", False),
        ("C9200L-48P-4X", "c92xxL Stack", False),
        ("", "anything", False),
    ],
)
def test_texts_agree_on_whole_words(ours: str, theirs: str, agree: bool) -> None:
    assert librenms.texts_agree(ours, theirs) is agree


def _temperature(value: float) -> Expected:
    return Expected(f"{value}", lambda o: abs(o.value - value) <= 0.5, f"{value}")


def test_matching_pairs_as_many_as_possible() -> None:
    # A greedy pairing would give 30.3 to 30.0's neighbour first and leave 30.0 unmatched.
    items = [_temperature(30.4), _temperature(30.0)]
    ours = [Observed({}, 30.3), Observed({}, 30.9)]
    assert librenms.match(items, ours) == {0, 1}


def test_one_series_serves_one_item() -> None:
    items = [_temperature(40.0), _temperature(40.0)]
    assert librenms.match(items, [Observed({}, 40.0)]) == {0}


@pytest.mark.parametrize(
    ("table", "descr", "category"),
    [
        ("ciscoEnvMonFanState", "Switch 1 - FAN - T1 1", "fan_states"),
        ("cefcFRUPowerOperStatus", "Switch 1 - Power Supply A", "psu_states"),
        ("cefcFRUPowerOperStatus", "GigabitEthernet0/7/1/3", None),
        ("jnxFruTable", "FAN: Fan 1 @ 0/0/0", "fan_states"),
        ("cswSwitchState", "Stack State - Switch#1", None),
    ],
)
def test_state_sensors_are_sorted_into_fans_and_supplies(
    table: str, descr: str, category: str | None
) -> None:
    assert librenms.state_category(table, descr) == category


def test_exceptions_take_out_disagreements_and_refuse_stale_or_unread() -> None:
    outcomes = [
        Outcome("librenms/ios/a", "processors", "Core 1", False, "3 %"),
        Outcome("librenms/ios/a", "processors", "Core 2", True, "5 %"),
        Outcome("librenms/ios/b", "fan_states", "Fan 1", False, "ok"),
    ]
    exceptions = [
        Waiver("librenms/ios/*", "processors", "Core *", "per-core CPUs"),
        Waiver("librenms/ios/b", "fan_states", "Fan 1", "hiding a table we do not read"),
        Waiver("librenms/ios/a", "temperatures", "x", "stale"),
    ]
    read = {"librenms/ios/a": {"processors"}, "librenms/ios/b": set()}
    kept, problems = librenms.apply_exceptions(outcomes, exceptions, read)
    assert [o.item for o in kept] == ["Core 2"]
    assert len(problems) == 2
    assert "table we do not read" in problems[0]
    assert "stale" in problems[1]


def _pool_items(pool: dict[str, object]) -> list[Expected]:
    out: dict[str, list[Expected]] = defaultdict(list)
    librenms._mempools({"mempools": {"discovery": {"mempools": [pool]}}}, out)
    return out["memory_pools"]


def test_a_percent_only_pool_is_compared_by_share_whatever_librenms_scaled_it_by() -> None:
    """LibreNMS scaled dellNetCpuUtilMemUsage (30 %) by its precision as if it were MiB."""
    (item,) = _pool_items(
        {
            "mempool_descr": "Memory Usage",
            "mempool_used": 31457280,
            "mempool_total": 104857600,
            "mempool_precision": 1048576,
        }
    )
    assert item.shown == "30 % used"
    ours_bytes = Observed({"pool": "2.1.1"}, 644245094.4, share=0.30)
    ours_ratio = Observed({"pool": "2.1.1"}, float("nan"), share=0.305)
    assert item.accepts(ours_bytes)
    assert item.accepts(ours_ratio)
    assert not item.accepts(Observed({"pool": "x"}, 31457280, share=0.5))


def test_a_ratio_only_pool_never_matches_a_byte_count() -> None:
    """Our ratio series carry no byte count: a pool LibreNMS has in bytes (even 0 B) is not
    theirs."""
    (item,) = _pool_items(
        {
            "mempool_descr": "FPC",
            "mempool_used": 0,
            "mempool_total": 535822336,
            "mempool_precision": 1,
        }
    )
    samples: dict[SampleKey, float] = {("chm_memory_utilization_ratio", (("pool", "0"),)): 0.5}
    (ours,) = librenms.observations(samples)["memory_pools"]
    assert ours.share == 0.5
    assert not item.accepts(ours)


def test_a_supply_listed_again_from_another_mib_is_named_so() -> None:
    sensors = [
        {
            "sensor_class": "state",
            "state_name": "cefcFRUPowerOperStatus",
            "sensor_descr": "Switch 1 - Power Supply A",
            "sensor_current": 2,
            "entPhysicalIndex": 1013,
        },
        {
            "sensor_class": "state",
            "state_name": "ciscoEnvMonSupplyState",
            "sensor_descr": "Switch 1 - Power Supply A, Normal",
            "sensor_current": 1,
            "entPhysicalIndex": 1013,
        },
        {
            "sensor_class": "state",
            "state_name": "ciscoEnvMonSupplyState",
            "sensor_descr": "Switch 2 - Power Supply A, Normal",
            "sensor_current": 1,
            "entPhysicalIndex": 2013,
        },
    ]
    states = [
        {"state_name": "cefcFRUPowerOperStatus", "state_value": 2, "state_generic_value": 0},
        {"state_name": "ciscoEnvMonSupplyState", "state_value": 1, "state_generic_value": 0},
    ]
    out: dict[str, list[Expected]] = defaultdict(list)
    librenms._sensors(
        {"sensors": {"discovery": {"sensors": sensors, "state_indexes": states}}}, out
    )
    assert [e.item for e in out["psu_states"]] == [
        "Switch 1 - Power Supply A",
        "Switch 1 - Power Supply A, Normal (entPhysicalIndex 1013 again)",
        "Switch 2 - Power Supply A, Normal",
    ]
