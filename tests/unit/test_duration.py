"""Durations the Prometheus way (`500ms`, `1h30m`) or as seconds, in every duration setting."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from chm_exporter.config import parse_config
from chm_exporter.duration import parse_duration
from chm_exporter.errors import ConfigError
from chm_exporter.settings import Settings


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("500ms", 0.5),
        ("5s", 5.0),
        ("1m", 60.0),
        ("1h30m", 5400.0),
        ("1m30s", 90.0),
        ("1s500ms", 1.5),
        ("2d", 172800.0),
        ("1w", 604800.0),
        ("1y", 31536000.0),
        ("0", 0.0),
        ("0s", 0.0),
        (" 10s ", 10.0),
        ("2", 2.0),
        ("0.25", 0.25),
        (3, 3.0),
        (0.1, 0.1),
    ],
)
def test_accepted_forms(value: object, seconds: float) -> None:
    assert parse_duration(value) == pytest.approx(seconds)


@pytest.mark.parametrize(
    "value",
    ["", "s", "5x", "1m5", "1.5s", "30s1m", "1h 30m", "1s1s", "-1s", "-2", "1e3", "inf"],
)
def test_refused_forms_name_the_accepted_ones(value: object) -> None:
    with pytest.raises(ValueError, match=r"invalid duration: use a Prometheus duration"):
        parse_duration(value)


@pytest.mark.parametrize("value", [True, None, [1], {"s": 1}])
def test_refused_types(value: object) -> None:
    with pytest.raises(ValueError, match="invalid duration"):
        parse_duration(value)


@pytest.mark.parametrize(
    ("written", "seconds"),
    [
        (("1m", "1500ms", "15m", "200ms"), (60.0, 1.5, 900.0, 0.2)),
        (("7.5", "3", "0", "0.05"), (7.5, 3.0, 0.0, 0.05)),
    ],
    ids=["prometheus", "seconds"],
)
def test_every_duration_of_a_module(written: tuple[str, ...], seconds: tuple[float, ...]) -> None:
    timeout, snmp_timeout, cache, interval = written
    module = parse_config(
        f"modules:\n  m:\n    timeout: {timeout}\n"
        f"    snmp: {{timeout: {snmp_timeout}, lookup_cache_seconds: {cache}}}\n"
        f"    icmp: {{interval: {interval}}}\n"
    ).modules["m"]
    assert module.snmp is not None
    assert module.icmp is not None
    read = (module.timeout, module.snmp.timeout, module.snmp.lookup_cache_seconds)
    assert (*read, module.icmp.interval) == seconds


def test_a_bad_duration_is_refused_naming_the_field() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config("modules:\n  m:\n    snmp: {timeout: 2sec}\n")
    message = str(caught.value)
    assert "modules.m.snmp.timeout: invalid duration: use a Prometheus duration" in message
    assert "2sec" not in message  # never the value: it may be a secret in the wrong field
    assert "\n" not in message


def test_limits_still_apply_to_durations() -> None:
    with pytest.raises(ConfigError, match=r"modules\.m\.timeout: Input should be less than"):
        parse_config("modules:\n  m:\n    timeout: 6m\n")
    with pytest.raises(ConfigError, match=r"modules\.m\.snmp\.timeout: Input should be greater"):
        parse_config("modules:\n  m:\n    snmp: {timeout: 0s}\n")


def test_timeout_offset_flag_takes_prometheus_syntax(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHM_TIMEOUT_OFFSET", "750ms")
    assert Settings().timeout_offset == 0.75


def test_the_documented_example_loads() -> None:
    text = (Path(__file__).resolve().parents[2] / "docs" / "configuration.md").read_text()
    block = re.search(r"### Durations.*?```yaml\n(.*?)```", text, re.S)
    assert block is not None, "docs/configuration.md lost its durations example"
    core = parse_config(block.group(1)).modules["core"]
    assert core.snmp is not None
    assert (core.timeout, core.snmp.timeout, core.snmp.lookup_cache_seconds) == (20.0, 1.5, 900.0)
