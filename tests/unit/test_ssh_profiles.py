"""CLI profiles are data that agrees with the rest of the exporter: the same metric names and
label names as the SNMP profiles (read from the golden expositions), every metric documented."""

from __future__ import annotations

import re
import typing
from pathlib import Path

import pytest

from chm_exporter.errors import ConfigError
from chm_exporter.exposition import MetricSink
from chm_exporter.ssh.config import Platform
from chm_exporter.ssh.emit import duration, emit_records, render
from chm_exporter.ssh.logs import LogMessage, LogState, count_new, parse_time, severity_name
from chm_exporter.ssh.profile import MetricRule, load_cli_profile, parse_profile

ROOT = Path(__file__).resolve().parents[2]
PLATFORMS = typing.get_args(Platform)


def _golden_label_names() -> dict[str, set[str]]:
    """Label names of every metric the SNMP profiles emit, from the golden expositions."""
    names: dict[str, set[str]] = {}
    for path in (ROOT / "tests/golden").glob("*.prom"):
        for line in path.read_text().splitlines():
            match = re.match(r"^([a-z_:][a-z0-9_:]*)(?:\{(.*)\})? ", line)
            if match and not line.startswith("#"):
                labels = set(re.findall(r'([a-z_]+)="', match.group(2) or ""))
                names.setdefault(match.group(1), labels)
    return names


def _rules() -> list[tuple[str, MetricRule]]:
    return [
        (p, rule)
        for p in PLATFORMS
        for command in load_cli_profile(p).commands
        for rule in command.metrics
    ]


@pytest.mark.parametrize("platform", PLATFORMS)
def test_every_platform_has_a_profile(platform: str) -> None:
    assert load_cli_profile(platform).commands


def test_metrics_have_the_snmp_names_and_labels() -> None:
    golden = _golden_label_names()
    for platform, rule in _rules():
        assert rule.name in golden, f"{platform}: {rule.name} is not an SNMP metric"
        assert set(rule.labels) == golden[rule.name], f"{platform}: {rule.name} labels"


def test_every_metric_is_documented() -> None:
    docs = (ROOT / "docs/metrics.md").read_text()
    for _, rule in _rules():
        assert f"`{rule.name}`" in docs


@pytest.mark.parametrize(
    ("rule", "says"),
    [
        ({"name": "chm_nope", "labels": {}}, "chm_nope is not in the metric catalogue"),
        (
            {"name": "chm_psu_up", "labels": {"state": "{s}", "psu": "{n}"}},
            "labels ['state', 'psu'] are not the catalogue's ['psu', 'state'] (in that order)",
        ),
        ({"name": "chm_psu_up", "labels": {"psu": "{n}", "state": "{s}"}, "help": "h"}, "help"),
    ],
)
def test_metric_rules_follow_the_catalogue(rule: dict[str, object], says: str) -> None:
    with pytest.raises(ValueError, match=re.escape(says)):
        MetricRule.model_validate(rule)


def test_extends_replaces_and_drops_commands() -> None:
    ios = [c.command for c in load_cli_profile("cisco_ios").commands]
    iosxe = [c.command for c in load_cli_profile("cisco_iosxe").commands]
    assert "show environment" in ios
    assert "show environment" not in iosxe
    assert "show environment all" in iosxe
    assert load_cli_profile("cisco_iosxe").prompt == load_cli_profile("cisco_ios").prompt


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"commands": [{"command": "x", "template": "ntc:nope"}]}, "no file nope.textfsm"),
        ({"commands": [{"command": "x", "template": "nope"}]}, "expected ntc:<name> or chm:<name>"),
        ({"prompt": "(["}, "test: prompt: pattern: not a valid regular expression"),
        ({"commands": []}, "commands"),
    ],
)
def test_invalid_profile_names_the_field(change: dict[str, object], message: str) -> None:
    data = {
        "platform": "x",
        "prompt": "#$",
        "commands": [{"command": "show version", "template": "ntc:cisco_ios_show_version"}],
    }
    with pytest.raises(ConfigError, match=re.escape(message)):
        parse_profile({**data, **change}, "test")


def test_label_templates_tolerate_missing_fields_and_lists() -> None:
    assert render("{hardware[0]}", {"hardware": []}) == ""
    assert render("{hardware[0]}/{nope}", {"hardware": ["WS-C4948E"]}) == "WS-C4948E/"
    assert render("{message}", {"message": ["two", "lines"]}) == "two lines"


def test_mapped_and_scaled_values() -> None:
    sink = MetricSink()
    rules = [
        MetricRule.model_validate(
            {
                "name": "chm_psu_up",
                "labels": {"psu": "{n}", "state": "{s}"},
                "value": {"field": "s", "map": {"good": 1}, "default": 0},
            }
        ),
        MetricRule.model_validate(
            {
                "name": "chm_cpu_utilization_ratio",
                "labels": {"cpu": "CPU"},
                "value": {"field": "idle", "scale": -0.01, "offset": 1},
            }
        ),
    ]
    added = emit_records(
        rules,
        [{"n": "1", "s": "Good", "idle": "96.5"}, {"n": "2", "s": "Bad", "idle": "x"}],
        {},
        sink,
    )
    assert added == 3  # the unreadable idle gives no CPU sample
    psu = sink.get("chm_psu_up")
    assert psu is not None
    assert psu.samples == {("1", "Good"): 1, ("2", "Bad"): 0}
    cpu = sink.get("chm_cpu_utilization_ratio")
    assert cpu is not None
    assert cpu.samples[("CPU",)] == pytest.approx(0.035)


def _msg(text: str, severity: str = "error") -> LogMessage:
    return LogMessage(severity, "LINK", "UPDOWN", None, text)


def test_repeated_identical_messages_count_by_multiplicity() -> None:
    state = LogState()
    assert count_new(state, [_msg("a")]) == 0  # baseline
    assert count_new(state, [_msg("a"), _msg("a"), _msg("b")]) == 2
    assert count_new(state, [_msg("a"), _msg("b")]) == 0  # one "a" wrapped out: nothing new
    assert state.totals[("error", "LINK", "UPDOWN")] == 2


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("2", "critical"),
        ("crit", "critical"),
        ("5", "notice"),
        ("warning", "warning"),
        ("9", "unknown"),
    ],
)
def test_severity_names(text: str, name: str) -> None:
    assert severity_name(text) == name


def test_timestamps_without_year_are_never_in_the_future() -> None:
    jan_2 = 1767312000.0  # 2026-01-02 00:00:00 UTC
    stamp = parse_time("Dec 31 23:59:59.500", now=jan_2)
    assert stamp is not None
    assert stamp == 1767225599.5  # 2025-12-31 23:59:59.5 UTC: last year
    assert parse_time("*Jan  1 10:00:00", now=jan_2) == 1767261600.0
    assert parse_time("1d02h", now=jan_2) is None


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        (
            "2 years, 31 weeks, 6 days, 9 hours, 55 minutes",
            2 * 31536000 + 31 * 604800 + 6 * 86400 + 9 * 3600 + 55 * 60,
        ),
        (
            "123 day(s), 5 hour(s), 15 minute(s), 19 second(s)",
            123 * 86400 + 5 * 3600 + 15 * 60 + 19,
        ),
        ("1 hour and 5 minutes", 3900),
        ("24 day(s) 4 hour(s) 11 minute(s) 1 second(s)", 24 * 86400 + 4 * 3600 + 11 * 60 + 1),
        ("15 days", 15 * 86400),
        (" weeks  days  hours 12 minutes", 720),
        ("never", None),
    ],
)
def test_cli_durations(text: str, seconds: float | None) -> None:
    assert duration(text) == seconds
