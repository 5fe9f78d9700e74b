"""The rules of the LibreNMS comparison (tests/integration/librenms.py), on small cases."""

from __future__ import annotations

import pytest

from tests.integration import librenms
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
