"""Read the Grafana dashboards: panels, their PromQL, the variables, and Grafana's substitutions.

`panel_queries(path)` gives every panel query as written (with `$instance`,
`$__rate_interval` ...); `substitute(expr, values)` fills the variables in so Prometheus can run
it. The end-to-end test fills `values` from the live Prometheus (label values of each
variable's query) and checks each query returns data.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from tests.kit.tools import REPO

DASHBOARDS_DIR = REPO / "dashboards"

#: Grafana's own variables, with values that make a query valid PromQL
GRAFANA_VARIABLES = {
    "__rate_interval": "5m",
    "__interval": "1m",
    "__range": "1d",
    "__range_s": "86400",
    "__range_ms": "86400000",
}
_VARIABLE = re.compile(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)")


def dashboard_paths() -> list[Path]:
    """Every dashboard JSON file."""
    return sorted(DASHBOARDS_DIR.glob("*.json"))


def load(path: Path) -> dict[str, Any]:
    """One dashboard."""
    with path.open(encoding="utf-8") as f:
        data: dict[str, Any] = json.load(f)
    return data


def panels(dashboard: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel, including those inside collapsed rows; rows themselves are left out."""
    for panel in dashboard.get("panels", []):
        if panel.get("type") == "row":
            yield from panel.get("panels", [])
        else:
            yield panel


def panel_queries(path: Path) -> list[str]:
    """Every panel target's PromQL expression of a dashboard, as written."""
    return [t["expr"] for p in panels(load(path)) for t in p.get("targets", []) if "expr" in t]


def variables(path: Path) -> dict[str, str]:
    """The query variables of a dashboard: name -> query (e.g. `label_values(up, instance)`)."""
    found = {}
    for v in load(path).get("templating", {}).get("list", []):
        if v.get("type") == "query":
            query = v["query"]
            found[v["name"]] = query["query"] if isinstance(query, dict) else query
    return found


def label_values_selector(query: str) -> tuple[str, str]:
    """`label_values(selector, label)` -> (selector, label)."""
    m = re.fullmatch(r"\s*label_values\((.*),\s*(\w+)\s*\)\s*", query, re.S)
    if m is None:
        raise ValueError(f"not a label_values() query: {query}")
    return m.group(1), m.group(2)


def substitute(expr: str, values: Mapping[str, str] | None = None) -> str:
    """Fill in Grafana's variables: given values first, then Grafana's own, else `.*`.

    A value stands as it is (regex matchers such as `ifname=~"$ifname"` accept `.*` or `a|b`);
    pass escaped values for names with regex characters. ``${1}`` stays: it is a
    label_replace capture reference, which Grafana leaves alone as an unknown variable.
    """
    known = {**GRAFANA_VARIABLES, **(values or {})}

    def replace(m: re.Match[str]) -> str:
        name = m.group(1) or m.group(2)
        if name.isdigit():
            return m.group(0)
        return known.get(name, ".*")

    return _VARIABLE.sub(replace, expr)
