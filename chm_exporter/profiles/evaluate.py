"""Turning walked columns into metric samples, as the profiles say."""

from __future__ import annotations

import math
import re
import sys
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache

from chm_exporter.catalogue import catalogue
from chm_exporter.exposition import LabelValues, MetricSink, Number
from chm_exporter.profiles.model import (
    DEVICE_INFO_LABELS,
    DEVICE_INFO_METRIC,
    Condition,
    LabelSpec,
    LookupKey,
    MetricSpec,
    Profile,
    RowSum,
    Source,
    Table,
)
from chm_exporter.profiles.tableplan import LabelPlan, SourcePlan, TablePlan, table_plan
from chm_exporter.profiles.values import as_number, as_text, enum_key
from chm_exporter.walk import RawValue, WalkResult

DEVICE_INFO_HELP = catalogue()[DEVICE_INFO_METRIC].help


_EMPTY: Mapping[str, RawValue] = {}


@dataclass(slots=True)
class Evaluation:
    """What one evaluation left out: samples dropped by reason, and which row gave each series
    (so two rows that would give the same label set are told apart, not overwritten)."""

    dropped: Counter[str] = field(default_factory=Counter)
    owners: dict[str, dict[LabelValues, tuple[str, str]]] = field(default_factory=dict)
    """By metric name: which row gave each label set."""
    collapsed: int = 0
    """Samples that replaced another row's (a metric without labels, read from two rows)."""


def evaluate_profiles(
    profiles: Iterable[Profile],
    result: WalkResult,
    sink: MetricSink,
    stop_at: float | None = None,
    evaluation: Evaluation | None = None,
) -> bool:
    """Add to `sink` every metric the profiles define that the walk result can serve.

    An unanswered table emits nothing (a scalar table none of whose OIDs has a value, too), and
    `chm_device_info` only comes when some field has a value.

    Args:
        stop_at: `time.monotonic()` past which rows are no longer evaluated (a walk cut at its
            deadline may hold a huge table); None: evaluate everything.

        evaluation: counts the values left out, by reason (DROP_REASONS): ``no_reading``
            (a sentinel the profile lists), ``out_of_range`` (outside the catalogue's range),
            ``not_finite`` (an agent's "nan", "inf", "1e309" or a value that overflows when
            scaled), ``negative_counter`` (a counter must not go below zero, or Prometheus
            reads a reset); and which row gave each series.

    Returns:
        False when `stop_at` cut the evaluation short.
    """
    evaluation = evaluation if evaluation is not None else Evaluation()
    info: dict[str, str] = {}
    orders: dict[str, list[str]] = {}
    groups: dict[str, dict[int | str | None, set[str]]] = {}
    has_info = False
    complete = True
    profiles = list(profiles)
    for profile in profiles:
        for column in profile.unsigned32:
            _unwrap_int32(result.columns.get(column))
    replaced = {
        name
        for profile in profiles
        for table in profile.tables
        if table.replaces and _answered(table, result)
        for name in table.replaces
    }
    last_resorts: list[tuple[str, LabelSpec]] = []
    for profile in profiles:
        for name, spec in profile.device_info.items():
            has_info = True
            if spec.last_resort:
                last_resorts.append((name, spec))
                continue
            if spec.fallback and info.get(name):
                continue
            value = _device_info_field(spec, result, orders)
            if value:
                info[name] = value
        for table in profile.tables:
            if f"{profile.name}.{table.name}" not in replaced:
                plan = table_plan(profile.name, table)
                complete = (
                    _evaluate_table(plan, result, sink, stop_at, evaluation, groups) and complete
                )
    for name, spec in last_resorts:
        if not info.get(name):
            info[name] = _device_info_field(spec, result, orders) or ""
    if has_info and any(info.values()):
        labels = {name: info.get(name, "") for name in DEVICE_INFO_LABELS}
        sink.add(DEVICE_INFO_METRIC, 1, labels, DEVICE_INFO_HELP)
    return complete


def _answered(table: Table, result: WalkResult) -> bool:
    """Whether the agent gave any value for one of the table's `rows:` columns or metric
    sources (an info metric has no source: its rows decide)."""
    columns = [*(table.rows or ()), *(s.oid for metric in table.metrics for s in metric.sources)]
    return any(value is not None for oid in columns for value in result.column(oid).values())


def _device_info_field(
    spec: LabelSpec, result: WalkResult, orders: dict[str, list[str]]
) -> str | None:
    """A chm_device_info field; `orders` keeps each column's rows in index order, sorted once
    per evaluation (several fields read one table: entPhysicalTable's model, serial, ...)."""
    if not spec.table:
        return _label_value(spec, result, "", None)
    oid = spec.oid[0] if spec.oid else ""
    order = orders.get(oid)
    if order is None:
        order = orders[oid] = sorted(result.column(oid), key=_index_order)
    where = _bound_conditions(spec.where, result)
    for index in order:
        if _row_matches(where, result, index):
            return _label_value(spec, result, index, None)
    return _finish(spec, None)


def _index_order(index: str) -> tuple[int, ...]:
    try:
        return tuple(int(p) for p in index.split("."))
    except ValueError:
        return (1 << 62,)


_BoundCondition = tuple[Condition, Mapping[str, RawValue]]
"""A condition with its column in this walk result (none for a test on the row index)."""


def _bound_conditions(conditions: list[Condition], result: WalkResult) -> list[_BoundCondition]:
    return [(cond, result.column(cond.oid or "")) for cond in conditions]


def _row_matches(conditions: list[_BoundCondition], result: WalkResult, index: str) -> bool:
    for cond, column in conditions:
        raw: RawValue
        if cond.index is not None:
            raw = ".".join(index.split(".")[cond.index[0] : cond.index[1]]) or None
        else:
            row = index if cond.key is None else _lookup_row(cond.key, result, index, None)
            raw = column.get(row)
        if cond.regex is not None:
            text = as_text(raw)
            if text is None or not _regex(cond.regex).search(text):
                return False
            continue
        if cond.not_regex is not None:
            text = as_text(raw)
            if text is not None and _regex(cond.not_regex).search(text):
                return False
            continue
        key = enum_key(raw)
        if cond.in_ is not None and key not in cond.in_:
            return False
        if cond.not_in is not None and key in cond.not_in:
            return False
    return True


def _scalar_answered(plan: TablePlan, result: WalkResult) -> bool:
    """Whether any OID a scalar table reads (its labels' or its metrics' sources) has a value."""
    return any(result.column(oid).get("") is not None for oid in plan.scalar_oids)


# Rows evaluated between two looks at the clock when evaluation has a time limit: a row of a
# hostile table can cost 0.3 ms (many labels of long strings), a look at the clock 0.1 us.
_ROWS_PER_CLOCK_CHECK = 4


def _evaluate_table(
    plan: TablePlan,
    result: WalkResult,
    sink: MetricSink,
    stop_at: float | None,
    evaluation: Evaluation,
    groups: dict[str, dict[int | str | None, set[str]]],
) -> bool:
    row_columns = plan.row_columns
    if plan.scalar:
        indexes: Iterable[str] = [""] if _scalar_answered(plan, result) else []
    elif len(row_columns) == 1:
        indexes = result.column(row_columns[0]).keys()
    else:
        merged: dict[str, None] = {}
        for col in row_columns:
            if stop_at is not None and time.monotonic() > stop_at:
                return False
            merged.update(dict.fromkeys(result.column(col)))
        indexes = merged
    dropped = evaluation.dropped
    where = _bound_conditions(plan.where, result)
    allowed = _rows_in(plan.where[0], result, groups, stop_at) if plan.where else None
    labels = _bound_labels(plan.labels, result)
    metrics = []
    for metric in plan.metrics:
        family = sink.family(metric.spec.name, metric.spec.help, metric.type, metric.label_names)
        metrics.append(
            (
                metric.spec,
                metric.info,
                None if metric.plain_first is None else result.column(metric.plain_first),
                None
                if metric.sources is None
                else [(result.column(s.oid), s) for s in metric.sources],
                metric.low,
                metric.high,
                metric.counter,
                metric,
                family.samples,
                evaluation.owners.setdefault(family.name, {}),
                _bound_labels(metric.labels, result),
            )
        )
    table_id = plan.table_id
    parts: list[str] | None = None
    given: set[str] = set()  # the metrics that gave the row a sample, for `unless:`
    for count, index in enumerate(indexes):
        if (
            stop_at is not None
            and count % _ROWS_PER_CLOCK_CHECK == 0
            and time.monotonic() > stop_at
        ):
            return False
        if allowed is not None and index not in allowed:
            continue
        if where and not _row_matches(where, result, index):
            continue
        if plan.needs_parts:
            parts = index.split(".") if index else []
        base = _row_labels(labels, result, index, parts) if labels else ()
        owner = (table_id, index)
        if plan.has_unless:
            given.clear()
        for (
            spec,
            info,
            first,
            sources,
            low,
            high,
            counter,
            metric,
            samples,
            owners,
            own_labels,
        ) in metrics:
            if spec.unless and not given.isdisjoint(spec.unless):
                continue
            try:
                if info:
                    value: int | float | None = 1
                elif first is not None and type(raw := first.get(index)) is int:
                    value = raw  # most cells: the first source's int, read as it is
                elif sources is None:
                    value = _metric_value(spec, result, index, dropped)
                else:
                    value = _direct_value(spec, sources, index, dropped)
            except (OverflowError, ValueError):  # 10.0 ** 400, int() of a 1e309-sized float
                value = math.inf
            if value is None:
                continue
            if not low <= value <= high or (counter and value < 0):
                reason = _impossible(value, metric.bounds, counter)
                if reason is not None:
                    dropped[reason] += 1
                    continue
            row_labels = base
            if own_labels:
                row_labels = base + _row_labels(own_labels, result, index, parts)
            if plan.has_unless:
                given.add(spec.name)
            if owners.setdefault(row_labels, owner) is owner:
                samples[row_labels] = value
            elif not _place(samples, row_labels, value, owner, metric.distinct, owners):
                evaluation.collapsed += 1
    return True


def _rows_in(
    cond: Condition,
    result: WalkResult,
    groups: dict[str, dict[int | str | None, set[str]]],
    stop_at: float | None,
) -> set[str] | None:
    """The rows an `in:` condition on the row's own cell keeps, from the column's rows grouped
    by value once per evaluation (ENTITY-SENSOR's sensor type filters seven tables of the same
    rows); None for another kind of condition, or when grouping reached `stop_at`."""
    if cond.in_ is None or cond.key is not None or cond.oid is None:
        return None
    by_key = groups.get(cond.oid)
    if by_key is None:
        by_key = {}
        for count, (index, raw) in enumerate(result.column(cond.oid).items()):
            if stop_at is not None and count % 256 == 255 and time.monotonic() > stop_at:
                return None
            by_key.setdefault(enum_key(raw), set()).add(index)
        groups[cond.oid] = by_key
    rows: set[str] = set()
    for key in cond.in_:
        rows |= by_key.get(key, set())
    return rows


_BoundLabel = tuple[LabelPlan, list[Mapping[str, RawValue]] | None]
"""A label's plan with, for a direct label, its columns in this walk result."""


def _bound_labels(plans: tuple[LabelPlan, ...], result: WalkResult) -> list[_BoundLabel]:
    return [
        (p, None if p.columns is None else [result.column(oid) for oid in p.columns]) for p in plans
    ]


def _row_labels(
    labels: list[_BoundLabel], result: WalkResult, index: str, parts: list[str] | None
) -> LabelValues:
    """The values of `labels` for row `index` (as `_label_value` gives them, "" for none)."""
    out: list[str] = []
    for plan, columns in labels:
        if plan.constant is not None:
            out.append(plan.constant)
        elif columns is not None:
            text: str | None = None
            for column in columns:
                raw = column.get(index)
                if raw is None:
                    continue
                if plan.map is not None:
                    text = plan.map.get(enum_key(raw))  # type: ignore[arg-type]
                    if text is not None:
                        break
                if text := as_text(raw, plan.format):
                    break
            out.append(text or plan.default)
        elif plan.index is not None and parts is not None:
            out.append(".".join(parts[plan.index[0] : plan.index[1]]) or plan.default)
        else:
            out.append(_label_value(plan.spec, result, index, parts) or "")
    return tuple(out)


def _direct_value(
    metric: MetricSpec,
    sources: list[tuple[Mapping[str, RawValue], SourcePlan]],
    index: str,
    dropped: Counter[str],
) -> int | float | None:
    """A direct metric's value in row `index` (as `_metric_value` gives it)."""
    for column, source in sources:
        raw = column.get(index)
        if raw is None:
            continue
        value = _cell_number(metric, raw, dropped)
        if value is None or not source.scaled:
            return value
        return _scaled(value, source.scale, source.offset)
    return None


def _cell_number(metric: MetricSpec, raw: RawValue, dropped: Counter[str]) -> int | float | None:
    """What a source's cell (not None) says before any arithmetic: its number, or its enum's
    mapped value; None for a sentinel that means no reading (counted), an enum neither mapped
    nor defaulted, or no number."""
    if metric.skip and raw in metric.skip:
        dropped["no_reading"] += 1
        return None
    if metric.map is not None:
        mapped = metric.map.get(raw if type(raw) is int else enum_key(raw))  # type: ignore[arg-type]
        return mapped if mapped is not None else metric.default
    return raw if type(raw) is int else as_number(raw)


def _impossible(
    value: int | float, bounds: tuple[float | None, float | None] | None, counter: bool
) -> str | None:
    """Why a value may not be exposed (a drop reason), or None when it may: NaN, ±Inf and
    integers beyond a float's range are no measurement; a negative counter would read as a
    reset; a value outside the metric's catalogue range is impossible."""
    if isinstance(value, float) and not math.isfinite(value):
        return "not_finite"
    if isinstance(value, int) and abs(value) > _FLOAT_MAX:
        return "not_finite"
    if counter and value < 0:
        return "negative_counter"
    if bounds is not None:
        low, high = bounds
        if (low is not None and value < low) or (high is not None and value > high):
            return "out_of_range"
    return None


def _place(
    samples: dict[LabelValues, Number],
    labels: LabelValues,
    value: int | float,
    owner: tuple[str, str],
    distinct: int,
    owners: dict[LabelValues, tuple[str, str]],
) -> bool:
    """Store a sample; when another row already gave this label set, the later row's distinct
    label gets ` #<its row index>` (and `.2`, `.3`, ... should that clash too), so no row is
    lost and the same walk always gives the same labels. False when the sample replaced
    another row's (a metric with no label to tell them apart)."""
    if owners.setdefault(labels, owner) != owner:
        if not 0 <= distinct < len(labels):
            samples[labels] = value
            return False
        name = labels[distinct]
        tag = f"#{owner[1]}" if owner[1] else "#2"
        attempt = 1
        while True:
            mark = tag if attempt == 1 else f"{tag}.{attempt}"
            renamed = f"{name} {mark}" if name else mark
            labels = (*labels[:distinct], renamed, *labels[distinct + 1 :])
            if owners.setdefault(labels, owner) == owner:
                break
            attempt += 1
    samples[labels] = value
    return True


_FLOAT_MAX = int(sys.float_info.max)


def _metric_value(
    metric: MetricSpec, result: WalkResult, index: str, dropped: Counter[str]
) -> int | float | None:
    if metric.type == "info":
        return 1
    for source in metric.sources:
        raw = result.column(source.oid).get(index)
        if raw is None:
            continue
        if metric.regex is not None:
            raw = _regex_number(metric.regex, raw)
            if raw is None:  # no figure in this text: the next source
                continue
        value = _cell_number(metric, raw, dropped)
        if value is None:
            return None
        value = _with_terms(value, source, result, index)
        if value is None:  # a column to add or subtract is missing: the next source
            continue
        if source.scale != 1.0 or source.offset != 0.0:
            value = _scaled(value, source.scale, source.offset)
        for factor in metric.factors:
            f_raw = as_number(result.column(factor.oid).get(index))
            if f_raw is None:
                return None
            if factor.value:
                value = value * _scaled(f_raw, factor.scale, factor.offset)
            elif factor.map is not None:
                mult = factor.map.get(int(f_raw))
                if mult is None:
                    return None
                value = _times(value, mult)
            else:
                value = _times(value, 10.0 ** (factor.pow10 * f_raw))  # type: ignore[operator]
        if metric.log10 is not None:
            if value < 0:
                return None
            # 0 W (no light) is -inf dBm: no sample, counted as not finite by the caller
            value = (
                -math.inf
                if value == 0
                else metric.log10.scale * math.log10(value) + metric.log10.offset
            )
        return value
    return None


def _regex_number(pattern: str, raw: RawValue) -> str | None:
    """The first group (or the whole match) of a search in a text value; None without a match."""
    text = as_text(raw)
    match = _regex(pattern).search(text) if text is not None else None
    if match is None:
        return None
    return match.group(1) if match.groups() else match.group(0)


def _with_terms(
    value: int | float, source: Source, result: WalkResult, index: str
) -> int | float | None:
    """value - each `minus` column + each `plus` column of the row, - / + each row sum; None
    when a column is missing or a row sum exceeds its `at_most` column (the source does not
    apply: the agent already left those rows out)."""
    for sign, oids in ((-1, source.minus), (1, source.plus)):
        for oid in oids:
            term = as_number(result.column(oid).get(index))
            if term is None:
                return None
            value = value + sign * term
    for sign, sums in ((-1, source.minus_rows), (1, source.plus_rows)):
        for total in sums:
            amount = _row_sum(total, result)
            if total.at_most is not None:
                limit = as_number(result.column(total.at_most).get(index))
                if limit is None or amount > limit:
                    return None
            value = value + sign * amount
    return value


def _row_sum(total: RowSum, result: WalkResult) -> int | float:
    """A column summed over the rows that meet the sum's conditions."""
    column = result.column(total.oid)
    where = _bound_conditions(total.where, result)
    return sum(
        number
        for index, raw in column.items()
        if _row_matches(where, result, index) and (number := as_number(raw)) is not None
    )


def _times(value: int | float, factor: float) -> int | float:
    """value x factor; a decimal fraction (1e-3) divides by its inverse, so 533 x 0.1 is 53.3
    and not 53.300000000000004."""
    if 0 < factor < 1:
        inverse = 1 / factor
        if abs(inverse - round(inverse)) < 1e-9 * inverse:
            return value / round(inverse)
    return value * factor


def _unwrap_int32(bucket: dict[str, RawValue] | None) -> None:
    """Negative values of an Integer32 column as the unsigned numbers they wrapped from (an
    agent that puts a 3 TB disk's block count into hrStorageSize sends it negative)."""
    if bucket is None:
        return
    for index, value in bucket.items():
        if type(value) is int and -(2**31) <= value < 0:
            bucket[index] = value + 2**32


def _scaled(value: int | float, scale: float, offset: float) -> int | float:
    if isinstance(value, int) and scale.is_integer() and offset.is_integer():
        return value * int(scale) + int(offset)
    return value * scale + offset


def _label_value(
    spec: LabelSpec, result: WalkResult, index: str, parts: list[str] | None
) -> str | None:
    if spec.value is not None:
        return spec.value
    if spec.index_suffix_of is not None:
        suffix = result.index_suffix(spec.index_suffix_of, index)
        return _finish(spec, None if suffix is None else _index_text(suffix, spec))
    if spec.index is not None and not spec.oid:
        parts = parts if parts is not None else index.split(".")
        return _finish(spec, ".".join(parts[spec.index[0] : spec.index[1]]))
    key = index if spec.key is None else _lookup_row(spec.key, result, index, parts)
    for position, oid in enumerate(spec.oid or ()):
        raw = result.column(oid).get(key)
        if raw is not None:
            if spec.map is not None:
                mapped = spec.map.get(enum_key(raw))  # type: ignore[arg-type]
                if mapped is not None:
                    return _finish(spec, mapped, mapped=True)
            fmt = spec.format
            if spec.format_by is not None and position == 0:
                subtype = as_number(result.column(spec.format_by.oid).get(key))
                if isinstance(subtype, int):
                    fmt = spec.format_by.formats.get(subtype, fmt)
            text = _shaped(spec, as_text(raw, fmt))
            if text:  # else the next column: this one's text did not match `regex`
                return text
    if spec.index is not None:  # no column had a value: the row index names it
        parts = parts if parts is not None else index.split(".")
        return _finish(spec, ".".join(parts[spec.index[0] : spec.index[1]]))
    return _finish(spec, None)


def _index_text(suffix: str, spec: LabelSpec) -> str | None:
    """Index sub-identifiers as label text: with `format: iana_address` an address family, a
    length and exactly that many octets (an address in an index), else no value; otherwise
    the sub-identifiers as they are."""
    if spec.format != "iana_address":
        return suffix
    try:
        family, length, *octets = (int(part) for part in suffix.split("."))
        if length != len(octets):
            return None
        raw = bytes([family, *octets])
    except ValueError:  # not numeric, too short, or a sub-identifier above 255
        return None
    return as_text(raw, "iana_address")


def _lookup_row(key: LookupKey, result: WalkResult, index: str, parts: list[str] | None) -> str:
    """The index of the other row a lookup key points at from row `index`."""
    if key.index is not None:
        parts = parts if parts is not None else index.split(".")
        return ".".join(parts[key.index[0] : key.index[1]])
    key_raw = result.column(key.oid or "").get(index)
    key_num = as_number(key_raw)
    return str(key_num) if isinstance(key_num, int) else (as_text(key_raw) or "")


def _finish(spec: LabelSpec, text: str | None, mapped: bool = False) -> str | None:
    text = _templated(spec, text) if mapped else _shaped(spec, text)
    return text if text else (spec.default or None)


def _shaped(spec: LabelSpec, text: str | None) -> str | None:
    """The text through the label's `regex` (the first group that took part in the match, so
    that each alternative of ``a(x)|b(y)`` may name its own), its `rewrite` rules, then its
    `template`."""
    if text is not None and spec.regex is not None:
        match = _regex(spec.regex).search(text)
        if match is None:
            return None
        groups = [g for g in match.groups() if g is not None]
        text = groups[0] if groups else (None if match.groups() else match.group(0))
    if text:
        for rule in spec.rewrite:
            found = _regex(rule.regex).search(text)
            if found is not None:
                text = found.expand(rule.to)
                break
    return _templated(spec, text)


def _templated(spec: LabelSpec, text: str | None) -> str | None:
    """The text put in the label's `template` (``Fan tray {}``), where it has one."""
    if text and spec.template is not None:
        return spec.template.replace("{}", text, 1)
    return text


@lru_cache(maxsize=512)
def _regex(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)
