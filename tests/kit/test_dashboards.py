"""dashboards/*.json: Grafana conventions, every query valid PromQL, every metric a known one."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from dashboards import generate
from dashboards.thresholds import Thresholds, read_table
from tests.kit.dashboards import (
    DASHBOARDS_DIR,
    dashboard_paths,
    label_values_selector,
    load,
    panel_queries,
    panels,
    substitute,
    variables,
)
from tests.kit.layout import rules
from tests.kit.tools import REPO, output, run

PATHS = dashboard_paths()
IDS = [p.stem for p in PATHS]
REQUIRED = {
    "chm-fleet-overview",
    "chm-device-detail",
    "chm-interfaces",
    "chm-availability",
    "chm-exporter",
    "chm-topology",
}
#: metrics Prometheus makes itself or client_python's process collector exports
OTHER_METRICS = {"up", "ALERTS", "scrape_duration_seconds"}
#: a number literal standing alone in PromQL or prose
NUMBER = re.compile(r"(?<![\w.])-?[0-9]+(?:\.[0-9]+)?(?![\w.])")
#: literals that are arithmetic, not thresholds: `(1 - availability)`
ARITHMETIC = {"1"}
KEYWORDS = {
    "by", "without", "on", "ignoring", "group_left", "group_right",
    "and", "or", "unless", "bool", "offset", "inf", "nan",
}  # fmt: skip


def known_metrics() -> set[str]:
    """Metric names of docs/metrics.md (with histogram series), recording rules, and the rest."""
    doc = (REPO / "docs" / "metrics.md").read_text(encoding="utf-8")
    names = set(re.findall(r"`((?:chm|probe)_[a-z0-9_]+)`", doc))
    names |= {f"{n}_{s}" for n in names for s in ("bucket", "sum", "count")}
    return names | {r["record"] for r in rules("record")} | OTHER_METRICS


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects (a lexical approximation, enough here)."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    text = re.sub(r"\{[^}]*\}|\[[^\]]*\]", " ", text)
    text = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    names = set()
    for m in re.finditer(r"(?<![\w:.])([a-zA-Z_:][\w:]*)(\s*\()?", text):
        if not m.group(2) and m.group(1) not in KEYWORDS:
            names.add(m.group(1))
    return names


def all_datasource_refs(node: Any) -> list[Any]:
    """Every value under a "datasource" key, anywhere in the JSON."""
    found = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "datasource":
                found.append(value)
            found += all_datasource_refs(value)
    elif isinstance(node, list):
        for item in node:
            found += all_datasource_refs(item)
    return found


def test_the_six_dashboards_exist() -> None:
    assert {load(p)["uid"] for p in PATHS} == REQUIRED


def test_json_is_what_the_generator_writes() -> None:
    """dashboards/generate.py is the source; the JSON must not be edited by hand."""
    assert sorted(generate.DASHBOARDS) == sorted(p.name for p in PATHS)
    for name in generate.DASHBOARDS:
        assert (DASHBOARDS_DIR / name).read_text(encoding="utf-8") == generate.render(name), (
            f"dashboards/{name} differs from dashboards/generate.py:"
            " run .venv/bin/python -m dashboards.generate"
        )


def rendered(table: Thresholds) -> dict[str, dict[str, Any]]:
    """Every dashboard as the generator makes it from `table`, parsed."""
    return {name: json.loads(generate.render(name, table)) for name in generate.DASHBOARDS}


def moved(table: Thresholds) -> Thresholds:
    """The table with every threshold moved to a value no dashboard has (1000.5, 1001.5, ...)."""
    return {name: 1000.5 + i for i, name in enumerate(table)}


def numbers(dashboard: Mapping[str, Any]) -> set[str]:
    """The number literals of a dashboard's queries and descriptions (`0.999`, not `rate5m`)."""
    texts = [dashboard["description"]]
    for p in panels(dashboard):
        texts += [p["description"], *(t["expr"] for t in p["targets"])]
    return {m for text in texts for m in NUMBER.findall(text)}


def threshold_drift(
    table: Thresholds, real: Mapping[str, Any], other: Thresholds, remade: Mapping[str, Any]
) -> list[str]:
    """Where dashboards made from `table` (`real`) and from `other` (`remade`) show a
    threshold that did not follow the table: a step or a literal that stayed the same.

    A step that stays is allowed only as "at least one" (value 1 on a count, unit none); a
    step that moves must move from a table row's value to the same row's value in `other`.
    """
    found = []
    for name, dashboard in real.items():
        for before, after in zip(panels(dashboard), panels(remade[name]), strict=True):
            defaults = before["fieldConfig"]["defaults"]
            steps = zip(
                defaults["thresholds"]["steps"],
                after["fieldConfig"]["defaults"]["thresholds"]["steps"],
                strict=True,
            )
            for old, new in ((a["value"], b["value"]) for a, b in steps):
                if old is None:
                    continue
                if old == new and not (old == 1 and defaults["unit"] == "none"):
                    found.append(f"{name} {before['title']!r}: step {old} is not from the table")
                elif old != new and not any(
                    table[row] == old and other[row] == new for row in table
                ):
                    found.append(f"{name} {before['title']!r}: step {old} follows no table row")
        stayed = numbers(dashboard) & numbers(remade[name]) - ARITHMETIC
        found += [
            f"{name}: the literal {n} is a threshold of the table, copied"
            for n in sorted(stayed)
            if float(n) in table.values()
        ]
    return found


def test_dashboard_thresholds_follow_the_rules_table() -> None:
    """Move every row of rules/alerts.yml's threshold table: every dashboard threshold moves."""
    table = read_table()
    assert {"slo_objective", "packet_loss", "burn_rate_1h"} <= set(table)
    assert threshold_drift(table, rendered(table), moved(table), rendered(moved(table))) == []


def test_threshold_drift_sees_a_copied_threshold() -> None:
    """The guard can fail: a step or a query literal written into a dashboard is caught."""
    table = read_table()
    real, other = rendered(table), moved(table)
    remade = rendered(other)
    availability = remade["chm-availability.json"]
    first = next(panels(availability))
    first["fieldConfig"]["defaults"]["thresholds"]["steps"][1]["value"] = table["slo_objective"]
    first["targets"][0]["expr"] += f" > {table['slo_objective']}"
    drift = threshold_drift(table, real, other, remade)
    assert len(drift) == 2, drift
    assert "'Fleet availability (30 d)': step 0.999 is not from the table" in drift[0]
    assert "the literal 0.999 is a threshold of the table, copied" in drift[1]


@pytest.mark.parametrize("path", PATHS, ids=IDS)
def test_datasource_is_a_variable_never_a_fixed_uid(path: Path) -> None:
    dashboard = load(path)
    assert "__inputs" not in dashboard
    template = dashboard["templating"]["list"]
    assert template[0]["type"] == "datasource"
    assert template[0]["name"] == "datasource"
    assert template[0]["query"] == "prometheus"
    refs = all_datasource_refs(dashboard)
    assert refs, "no datasource references"
    for ref in refs:
        assert ref == {"type": "prometheus", "uid": "${datasource}"}, ref


@pytest.mark.parametrize("path", PATHS, ids=IDS)
def test_panels_have_queries_and_units(path: Path) -> None:
    dashboard = load(path)
    assert dashboard["schemaVersion"] >= 38, "Grafana 10 or later"
    ids = [p["id"] for p in panels(dashboard)]
    assert len(ids) == len(set(ids)), "panel ids repeat"
    for panel in panels(dashboard):
        title = panel["title"]
        assert panel["targets"], f"{title}: no targets"
        for t in panel["targets"]:
            assert t.get("expr", "").strip(), f"{title}: a target without expr"
        unit = panel["fieldConfig"]["defaults"].get("unit")
        assert unit, f"{title}: no unit"
        grid = panel["gridPos"]
        assert grid["x"] >= 0, f"{title}: outside the grid"
        assert grid["x"] + grid["w"] <= 24, f"{title}: outside the grid"


@pytest.mark.parametrize("path", PATHS, ids=IDS)
def test_rates_use_rate_interval(path: Path) -> None:
    for expr in panel_queries(path):
        for m in re.finditer(r"\b(?:rate|irate|increase|delta|idelta)\s*\(", expr):
            window = re.search(r"\[([^\]]+)\]", expr[m.end() :])
            assert window, expr
            assert window.group(1) == "$__rate_interval", expr


@pytest.mark.parametrize("path", PATHS, ids=IDS)
def test_variables_are_used_and_defined(path: Path) -> None:
    queries = panel_queries(path)
    defined = set(variables(path)) | {"datasource"}
    for expr in queries:
        for name in re.findall(r"\$(\w+)", expr):
            assert name.startswith("__") or name in defined, f"${name} not defined: {expr}"
    for name in variables(path):
        assert any(f"${name}" in q for q in queries), f"${name} is used by no panel"


@pytest.mark.parametrize("path", PATHS, ids=IDS)
def test_queries_select_only_known_metrics(path: Path) -> None:
    known = known_metrics()
    exprs = panel_queries(path) + [label_values_selector(q)[0] for q in variables(path).values()]
    for expr in exprs:
        unknown = {n for n in metric_names(expr) if n not in known and not n.startswith("process_")}
        assert not unknown, f"{expr}: not in docs/metrics.md nor a recording rule: {unknown}"


def test_metric_name_extraction() -> None:
    expr = 'sum by (le, prober) (rate(a_total{job="x", b=~"$c"}[$__rate_interval])) / on (i) b:c:d'
    assert metric_names(expr) == {"a_total", "b:c:d"}


def check_queries(tmp_path: Path, exprs: list[str]) -> subprocess.CompletedProcess[str]:
    """promtool check rules on the expressions, each as a recording rule."""
    rule_file = tmp_path / "dashboard-queries.yml"
    group = {
        "name": "dashboard-queries",
        "rules": [{"record": f"dashboard_query_{i}", "expr": e} for i, e in enumerate(exprs)],
    }
    rule_file.write_text(yaml.safe_dump({"groups": [group]}), encoding="utf-8")
    return run("promtool", "check", "rules", rule_file)


def test_every_query_is_valid_promql(tmp_path: Path) -> None:
    exprs = [substitute(q, {"instance": "sw1"}) for p in PATHS for q in panel_queries(p)]
    exprs += [
        label_values_selector(substitute(q, {"instance": "sw1"}))[0]
        for p in PATHS
        for q in variables(p).values()
    ]
    result = check_queries(tmp_path, exprs)
    assert result.returncode == 0, output(result)
    assert f"SUCCESS: {len(exprs)} rules found" in result.stdout, output(result)


def test_promql_check_catches_a_broken_query(tmp_path: Path) -> None:
    result = check_queries(tmp_path, ["sum(rate(chm_interface_receive_bytes_total[5m])"])
    assert result.returncode != 0, output(result)


def test_substitute_fills_grafana_and_dashboard_variables() -> None:
    expr = 'rate(x{instance="$instance", ifname=~"${ifname}"}[$__rate_interval])'
    assert substitute(expr, {"instance": "sw1"}) == 'rate(x{instance="sw1", ifname=~".*"}[5m])'
