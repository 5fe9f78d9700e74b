"""What evaluating a profile table needs that no scrape changes, worked out once per table.

A scrape evaluates every cell of every table: what the cell's path through the profile is
(which columns, labels and conversions, the metric's exposable range, whether a shortcut
applies) depends only on the profile, so it is decided here once and kept for as long as the
table is in use, not re-derived per scrape or per cell.

Two shortcuts cover nearly every cell of the corpus; each computes exactly what the general
path (:func:`chm_exporter.profiles.evaluate._metric_value` and ``_label_value``) would:

- a **direct** metric: values from its sources' own cells, with at most a map, a default,
  skipped sentinels and each source's scale and offset (no regex, factors, log10, columns or
  row sums to add or subtract);
- a **direct** label: the first mapped value or non-empty text of its columns (in its format),
  or the parts of the row index, else its default (no regex, rewrite, template, lookup key,
  format-by column or index suffix); and constant labels.
"""

from __future__ import annotations

import sys
import weakref
from dataclasses import dataclass
from functools import lru_cache

from chm_exporter.catalogue import catalogue
from chm_exporter.exposition import MetricType
from chm_exporter.profiles.model import Condition, Format, LabelSpec, MetricSpec, Table

_FLOAT_MAX = sys.float_info.max

Bounds = tuple[float | None, float | None] | None
"""A metric's sane range from the catalogue (either end open), or None."""


@dataclass(frozen=True, slots=True)
class LabelPlan:
    """How to get one label's value from a row."""

    spec: LabelSpec
    constant: str | None
    """The label's value on every row (a `value:` label), else None."""
    columns: tuple[str, ...] | None
    """A direct label's columns, read in order; None: not read from columns directly."""
    index: tuple[int, int] | None
    """A direct label that is part of the row index: the slice of its parts."""
    map: dict[int | str, str] | None
    format: Format
    default: str

    @property
    def general(self) -> bool:
        """Whether the label takes the general path."""
        return self.constant is None and self.columns is None and self.index is None


@dataclass(frozen=True, slots=True)
class SourcePlan:
    """One source of a direct metric."""

    oid: str
    scale: float
    offset: float
    scaled: bool
    """Whether scale or offset change the value."""


@dataclass(frozen=True, slots=True)
class MetricPlan:
    """How to get one metric's sample from a row, and whether it may be exposed."""

    spec: MetricSpec
    type: MetricType
    label_names: tuple[str, ...]
    """The table's label names, then the metric's own."""
    labels: tuple[LabelPlan, ...]
    """The metric's own labels (after the table's)."""
    info: bool
    """An info metric: its value is 1 on every row."""
    sources: tuple[SourcePlan, ...] | None
    """A direct metric's sources; None: the general path."""
    plain_first: str | None
    """A direct metric's first source's column when it is read as it is (no skip, map, scale
    or offset): when that cell holds an int, it is the value."""
    bounds: Bounds
    low: float
    high: float
    """The range a value may take without a closer look: the catalogue's, within a float's."""
    counter: bool
    distinct: int
    """Position of the label that tells two rows apart (-1: none)."""


@dataclass(frozen=True, slots=True)
class TablePlan:
    """A table's evaluation, decided once."""

    profile: str
    table_id: str
    """``profile.table``: names the row that gave a series."""
    scalar: bool
    """A table of instance OIDs (one row, index "")."""
    scalar_oids: tuple[str, ...]
    """A scalar table's OIDs (labels' and sources'): with no value among them, no row."""
    row_columns: tuple[str, ...]
    """Columns whose indexes are the table's rows."""
    where: list[Condition]
    labels: tuple[LabelPlan, ...]
    metrics: tuple[MetricPlan, ...]
    needs_parts: bool
    """Whether some label reads the row index's parts."""
    has_unless: bool
    """Whether a metric gives no sample on a row where another gave one (`unless:`)."""


# Table plans by the table's identity, each entry dropped when its table is collected (a
# reload's new profiles replace the old; the plans go with them).
_PLANS: dict[int, tuple[weakref.ref[Table], TablePlan]] = {}


def table_plan(profile: str, table: Table) -> TablePlan:
    """The plan of `table` of profile `profile`, made on first use."""
    entry = _PLANS.get(id(table))
    if entry is not None and entry[0]() is table and entry[1].profile == profile:
        return entry[1]
    plan = _make_table_plan(profile, table)
    if entry is None or entry[0]() is not table:
        weakref.finalize(table, _PLANS.pop, id(table), None)
    _PLANS[id(table)] = (weakref.ref(table), plan)
    return plan


def _make_table_plan(profile: str, table: Table) -> TablePlan:
    labels = tuple(_label_plan(spec) for spec in table.labels.values())
    metrics = tuple(_metric_plan(metric, tuple(table.labels)) for metric in table.metrics)
    row_columns = table.rows or list(dict.fromkeys(s.oid for m in table.metrics for s in m.sources))
    every_label = (*labels, *(p for m in metrics for p in m.labels))
    specs = [*table.labels.values(), *(s for m in table.metrics for s in m.labels.values())]
    scalar_oids = [oid for spec in specs for oid in spec.oid or ()]
    scalar_oids += [s.oid for m in table.metrics for s in m.sources]
    return TablePlan(
        profile=profile,
        table_id=f"{profile}.{table.name}",
        scalar=table.scalar,
        scalar_oids=tuple(scalar_oids) if table.scalar else (),
        row_columns=tuple(row_columns),
        where=table.where,
        labels=labels,
        metrics=metrics,
        needs_parts=any(p.general or p.index is not None for p in every_label),
        has_unless=any(m.unless for m in table.metrics),
    )


def _label_plan(spec: LabelSpec) -> LabelPlan:
    direct = (
        spec.value is None
        and spec.key is None
        and spec.index_suffix_of is None
        and spec.format_by is None
        and spec.regex is None
        and spec.template is None
        and not spec.rewrite
    )
    return LabelPlan(
        spec=spec,
        constant=spec.value,
        columns=tuple(spec.oid) if direct and spec.oid and spec.index is None else None,
        index=spec.index if direct and not spec.oid and spec.map is None else None,
        map=spec.map,
        format=spec.format,
        default=spec.default,
    )


def _metric_plan(metric: MetricSpec, table_labels: tuple[str, ...]) -> MetricPlan:
    info = metric.type == "info"
    direct = (
        not info
        and metric.regex is None
        and not metric.factors
        and metric.log10 is None
        and not any(s.minus or s.plus or s.minus_rows or s.plus_rows for s in metric.sources)
    )
    bounds = metric_bounds(metric.name)
    low, high = bounds if bounds is not None else (None, None)
    sources = (
        tuple(
            SourcePlan(s.oid, s.scale, s.offset, s.scale != 1.0 or s.offset != 0.0)
            for s in metric.sources
        )
        if direct
        else None
    )
    return MetricPlan(
        spec=metric,
        type="counter" if metric.type == "counter" else "gauge",
        label_names=table_labels + tuple(metric.labels),
        labels=tuple(_label_plan(spec) for spec in metric.labels.values()),
        info=info,
        sources=sources,
        plain_first=(
            sources[0].oid
            if sources and not metric.skip and metric.map is None and not sources[0].scaled
            else None
        ),
        bounds=bounds,
        low=-_FLOAT_MAX if low is None else max(-_FLOAT_MAX, low),
        high=_FLOAT_MAX if high is None else min(_FLOAT_MAX, high),
        counter=metric.type == "counter",
        distinct=distinct_label(metric.name),
    )


@lru_cache(maxsize=1024)
def metric_bounds(name: str) -> Bounds:
    """The catalogue's range of metric `name` (None: none, or not in the catalogue)."""
    known = catalogue().get(name)
    return known.range if known is not None else None


@lru_cache(maxsize=1024)
def distinct_label(name: str) -> int:
    """Position of the label that tells two rows of metric `name` apart (-1: none)."""
    known = catalogue().get(name)
    position = known.distinct_label if known is not None else 0
    return position if position is not None else -1
