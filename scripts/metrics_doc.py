"""Write docs/metrics.md from the metric catalogue (chm_exporter/catalogue.yaml) and the shipped
profiles, so the page is the contract and stays true (tests/unit/test_docs.py fails when the
committed page differs from what this writes).

    .venv/bin/python scripts/metrics_doc.py > docs/metrics.md
"""

from __future__ import annotations

import sys

from chm_exporter.catalogue import CATALOGUE_PATH, MetricDef, catalogue
from chm_exporter.profiles import load_profiles
from chm_exporter.profiles.describe import source_text

INTRO = f"""\
# Metrics (the living contract)

One set of names for every vendor, so one dashboard and one alert set serve a mixed fleet.
Every series carries the device in `instance` (from Prometheus' relabelling); the exporter adds
no target label of its own. Base units throughout (`_seconds`, `_bytes`, `_bits_per_second`,
`_ratio` 0..1, `_celsius`); `_total` only on counters; `_info` series have the value 1 and carry
attributes as labels. A value the device does not have produces no series, never a fake 0.

Written by `scripts/metrics_doc.py` from the metric catalogue (`{CATALOGUE_PATH}`: one
type, label set, unit, sane range and HELP text per name) and the shipped profiles (where each
vendor's value comes from); `tests/unit/test_docs.py` fails when this page is stale. Rebuild it
with `.venv/bin/python scripts/metrics_doc.py > docs/metrics.md`. The range is what a sane
value falls in; "≥ 0" has no upper bound.
"""


def _number(value: float) -> str:
    return f"{value:g}"


def _range(metric: MetricDef) -> str:
    if metric.range is None:
        return ""
    low, high = metric.range
    if high is None:
        return f"≥ {_number(low or 0)}"
    if low is None:
        return f"≤ {_number(high)}"
    return f"{_number(low)}..{_number(high)}"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def catalogue_sections() -> list[str]:
    """One section per catalogue group: a table of its metrics."""
    lines: list[str] = []
    for group in catalogue().groups:
        lines += [f"## {group.title}", ""]
        if group.about:
            lines += [group.about, ""]
        lines += [
            "| metric | type | labels | unit | range | meaning |",
            "|---|---|---|---|---|---|",
        ]
        for m in group.metrics:
            labels = ", ".join(f"`{label}`" for label in m.labels)
            lines.append(
                f"| `{m.name}` | {m.type} | {labels} | {m.unit or ''} | {_range(m)} "
                f"| {_cell(m.help)} |"
            )
        lines.append("")
    return lines


def profile_sections() -> list[str]:
    """Per shipped profile: each metric, its table and the MIB objects its value comes from."""
    cat = catalogue()
    lines = [
        "## Where each profile's metrics come from",
        "",
        "MIB object names are the profile's OID aliases (`oids:`); alternatives are tried in",
        "order (`else`), `-` subtracts a column of the same row and `x` multiplies by one.",
        "Metrics outside the catalogue (snmp_exporter's own names, for `compat: snmp_exporter`)",
        "carry their own HELP in their profile.",
        "",
    ]
    for name, profile in sorted(load_profiles().items()):
        lines += [f"### Profile `{name}`", ""]
        if profile.description:
            lines += [" ".join(profile.description.split()), ""]
        if profile.includes:
            lines += [f"Includes: {', '.join(f'`{i}`' for i in profile.includes)}.", ""]
        if profile.device_info:
            fields = ", ".join(f"`{f}`" for f in profile.device_info)
            lines += [f"`chm_device_info` fields: {fields}.", ""]
        rows = [(metric, table.name) for table in profile.tables for metric in table.metrics]
        if not rows:
            continue
        lines += ["| metric | table | from |", "|---|---|---|"]
        for metric, table_name in rows:
            marker = "" if cat.get(metric.name) else " (own HELP)"
            extra = ", ".join(f"{k}={v.value}" for k, v in metric.labels.items() if v.value)
            shown = f"`{metric.name}`" + (f"{{{extra}}}" if extra else "") + marker
            lines.append(f"| {shown} | {table_name} | {_cell(source_text(profile, metric))} |")
        lines.append("")
    return lines


def main() -> None:
    """Print the page."""
    text = "\n".join([INTRO, *catalogue_sections(), *profile_sections()])
    sys.stdout.write(text.rstrip("\n") + "\n")


if __name__ == "__main__":
    main()
