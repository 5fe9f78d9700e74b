"""rules/: promtool checks and unit tests, plus what promtool cannot check.

Every alert has a promtool case that fires and one that stays quiet, checking labels and
annotations; every recording rule has its value tested; thresholds agree with the table at the
top of alerts.yml; every runbook_url points at a section of docs/runbook.md.
"""

from __future__ import annotations

import re
import shutil
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from dashboards.thresholds import parse_table, read_table
from tests.kit.layout import RULE_FILES, RULES_DIR, load_yaml, rules
from tests.kit.tools import REPO, output, run

TEST_FILES = sorted((RULES_DIR / "tests").glob("*.test.yml"))
RUNBOOK = REPO / "docs" / "runbook.md"
SEVERITIES = {"critical", "warning", "info", "none"}
#: alerts that cannot have a quiet case
ALWAYS_FIRING = {"Watchdog"}
#: a literal followed by a comment naming its threshold: `> 0.90  # cpu_high`
THRESHOLD_USE = re.compile(r"(?P<value>-?[0-9][0-9.]*)\)*,?\s+#\s*(?P<name>[a-z0-9_]+)\s*$", re.M)
LEVEL_METRIC_OPERATIONS = re.compile(r"^[a-z][a-z_]*:[a-z][a-z0-9_]*:[a-z][a-z0-9_]*$")


def alert_cases() -> list[dict[str, Any]]:
    """Every alert_rule_test entry of the promtool test files."""
    return [
        case
        for path in TEST_FILES
        for test in load_yaml(path)["tests"]
        for case in test.get("alert_rule_test", [])
    ]


def github_anchors(markdown: str) -> set[str]:
    """The anchors GitHub gives the headings of a Markdown text."""
    anchors = set()
    for line in markdown.splitlines():
        if m := re.match(r"^#{1,6}\s+(.*?)\s*$", line):
            slug = re.sub(r"[^\w\- ]", "", m.group(1).lower()).replace(" ", "-")
            anchors.add(slug)
    return anchors


def test_promtool_check_rules_accepts_every_rule() -> None:
    result = run("promtool", "check", "rules", *RULE_FILES)
    assert result.returncode == 0, output(result)
    for path in RULE_FILES:
        count = sum(len(g["rules"]) for g in load_yaml(path)["groups"])
        assert f"SUCCESS: {count} rules found" in result.stdout, output(result)


def test_promtool_unit_tests_pass() -> None:
    assert TEST_FILES, "no rules/tests/*.test.yml"
    result = run("promtool", "test", "rules", *TEST_FILES)
    assert result.returncode == 0, output(result)
    assert result.stdout.count("SUCCESS") == len(TEST_FILES), output(result)


def test_promtool_unit_tests_catch_a_wrong_annotation(tmp_path: Path) -> None:
    """The promtool cases really compare annotations: a changed description fails them."""
    shutil.copytree(RULES_DIR, tmp_path / "rules")
    alerts = tmp_path / "rules" / "alerts.yml"
    text = alerts.read_text(encoding="utf-8")
    assert "but operationally down." in text
    alerts.write_text(text.replace("operationally down.", "down."), encoding="utf-8")
    result = run("promtool", "test", "rules", tmp_path / "rules/tests/interfaces.test.yml")
    assert result.returncode != 0, output(result)
    assert "ChmInterfaceDown" in result.stdout + result.stderr


def test_every_alert_has_a_firing_and_a_quiet_case() -> None:
    fires: dict[str, list[dict[str, str]]] = defaultdict(list)
    quiet: set[str] = set()
    for case in alert_cases():
        if case["exp_alerts"]:
            fires[case["alertname"]] += [a["exp_labels"] for a in case["exp_alerts"]]
        else:
            quiet.add(case["alertname"])
    for rule in rules("alert"):
        name = rule["alert"]
        variant = {k: str(v) for k, v in rule["labels"].items()}
        assert any(variant.items() <= labels.items() for labels in fires[name]), (
            f"no promtool case fires {name} with labels {variant}"
        )
        if name not in ALWAYS_FIRING:
            assert name in quiet, f"no promtool case where {name} stays quiet"


def test_every_fired_alert_checks_its_annotations() -> None:
    for case in alert_cases():
        for alert in case["exp_alerts"]:
            annotations = alert.get("exp_annotations", {})
            assert set(annotations) == {"summary", "description", "runbook_url"}, case


def test_every_recording_rule_is_tested() -> None:
    tested = {
        case["expr"]
        for path in TEST_FILES
        for test in load_yaml(path)["tests"]
        for case in test.get("promql_expr_test", [])
        if case["exp_samples"]
    }
    for rule in rules("record"):
        assert rule["record"] in tested, f"no promql_expr_test checks {rule['record']}"


@pytest.mark.parametrize("rule", rules("record"), ids=lambda r: r["record"])
def test_recording_rule_names_are_level_metric_operations(rule: dict[str, Any]) -> None:
    assert LEVEL_METRIC_OPERATIONS.match(rule["record"])


@pytest.mark.parametrize("rule", rules("alert"), ids=lambda r: f"{r['alert']}-{r['labels']}")
def test_alert_has_severity_summary_description_runbook(rule: dict[str, Any]) -> None:
    assert re.fullmatch(r"(Chm[A-Z][A-Za-z]+|Watchdog)", rule["alert"])
    assert rule["labels"]["severity"] in SEVERITIES
    annotations = rule["annotations"]
    assert set(annotations) == {"summary", "description", "runbook_url"}
    assert "{{" not in annotations["summary"], "summary must be static"
    if rule["alert"] not in ALWAYS_FIRING:
        assert "{{" in annotations["description"], "description must be templated"
    path, _, anchor = annotations["runbook_url"].partition("#")
    assert path == "docs/runbook.md"
    assert anchor == rule["alert"].lower()
    assert anchor in github_anchors(RUNBOOK.read_text(encoding="utf-8")), (
        f"docs/runbook.md has no section #{anchor}"
    )


def test_runbook_has_a_section_for_every_alert_and_no_other() -> None:
    alerts = {r["alert"] for r in rules("alert")}
    sections = set(re.findall(r"^## (\S+)\s*$", RUNBOOK.read_text(encoding="utf-8"), re.M))
    assert sections == alerts


def test_thresholds_agree_with_the_table() -> None:
    # Read the file's text, not the parsed YAML: on a one-line `expr:` the `# name` is a YAML
    # comment, on a block expression a PromQL comment; both name the threshold.
    lines = (RULES_DIR / "alerts.yml").read_text(encoding="utf-8").splitlines()
    table = read_table(RULES_DIR / "alerts.yml")
    assert len(table) >= 10, "threshold table not found at the top of rules/alerts.yml"
    used: set[str] = set()
    for number, line in enumerate(lines, 1):
        if line.lstrip().startswith("#") or not (m := THRESHOLD_USE.search(line)):
            continue
        name = m["name"]
        assert name in table, f"alerts.yml:{number} names threshold {name}, not in the table"
        assert float(m["value"]) == table[name], (
            f"alerts.yml:{number}: {name} is {m['value']} here, {table[name]} in the table"
        )
        used.add(name)
    assert used == set(table), f"thresholds in the table but used nowhere: {set(table) - used}"


def test_threshold_table_refuses_a_name_set_twice() -> None:
    rows = "# threshold:cpu_high  0.90  CPU\n# threshold:cpu_high  0.95  CPU again\n"
    with pytest.raises(ValueError, match="cpu_high is set twice"):
        parse_table(rows)


def test_threshold_check_sees_a_changed_literal() -> None:
    """The pattern finds `> 0.95  # cpu_high`, so a literal changed alone would be caught."""
    m = THRESHOLD_USE.search("chm_cpu_utilization_ratio > 0.95  # cpu_high\n")
    assert m is not None
    assert (m["name"], m["value"]) == ("cpu_high", "0.95")


@pytest.mark.parametrize("path", TEST_FILES, ids=lambda p: p.name)
def test_test_file_orders_every_group(path: Path) -> None:
    """Without group_eval_order promtool evaluates groups in a random order (flaky values)."""
    spec = load_yaml(path)
    groups = [
        group["name"]
        for rule_file in spec["rule_files"]
        for group in load_yaml(path.parent / rule_file)["groups"]
    ]
    assert spec.get("group_eval_order") == groups
