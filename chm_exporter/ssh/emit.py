"""Records parsed from CLI output into metric samples, as a profile's rules say."""

from __future__ import annotations

import re
import string
from collections.abc import Iterable, Mapping
from functools import cache
from typing import TYPE_CHECKING, Any

from chm_exporter.catalogue import catalogue
from chm_exporter.exposition import MetricSink, MetricType
from chm_exporter.ssh.profile import MetricRule, ValueRule

if TYPE_CHECKING:  # not at run time: parse imports TextFSM, loaded on the first SSH probe
    from chm_exporter.ssh.parse import Record


class _LenientFormatter(string.Formatter):
    """str.format where a missing field or list item is the empty string."""

    def get_field(self, field_name: str, args: Any, kwargs: Any) -> Any:
        try:
            return super().get_field(field_name, args, kwargs)
        except (KeyError, IndexError, AttributeError, TypeError):
            return "", field_name

    def format_field(self, value: Any, format_spec: str) -> str:
        if isinstance(value, list):
            value = " ".join(str(v) for v in value)
        return str(super().format_field(value, format_spec)).strip()


_FORMATTER = _LenientFormatter()


def render(template: str, fields: Mapping[str, Any]) -> str:
    """A label value: `template` with ``{field}`` (``{field[0]}`` for list fields) filled in."""
    return _FORMATTER.vformat(template, (), fields)


@cache
def _regex(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def _first(value: Any) -> str:
    if isinstance(value, list):
        return str(value[0]) if value else ""
    return str(value)


def number(text: Any) -> float | None:
    """A field as a number (``1,024`` and ``37.5`` read; anything else: None)."""
    if isinstance(text, list):
        text = text[0] if text else ""
    try:
        return float(str(text).replace(",", "").strip())
    except ValueError:
        return None


_DURATION = re.compile(r"(\d+)\s*(year|week|day|hour|minute|second)s?(?:\(s\))?", re.I)
_SECONDS = {"year": 365 * 86400, "week": 7 * 86400, "day": 86400, "hour": 3600, "minute": 60}


def duration(text: str) -> float | None:
    """Seconds in a CLI duration: ``2 years, 31 weeks, 6 days, 9 hours, 55 minutes``,
    ``123 day(s), 5 hour(s), 19 second(s)``, ``1 hour and 5 minutes``; None without any."""
    parts = _DURATION.findall(text)
    if not parts:
        return None
    return float(sum(int(n) * _SECONDS.get(unit.lower(), 1) for n, unit in parts))


def _value(rule: float | ValueRule, fields: Mapping[str, Any]) -> float | None:
    if not isinstance(rule, ValueRule):
        return rule
    raw = render(rule.field, fields) if "{" in rule.field else fields.get(rule.field, "")
    if rule.parse == "duration":
        seconds = duration(_first(raw))
        return None if seconds is None else seconds * rule.scale + rule.offset
    if rule.map is not None:
        word = str(raw).strip().lower()
        return next((v for k, v in rule.map.items() if k.lower() == word), rule.default)
    value = number(raw)
    if value is None:
        return None
    if rule.subtract is not None:
        minus = number(fields.get(rule.subtract, ""))
        if minus is None:
            return None
        value -= minus
    return value * rule.scale + rule.offset


def _fields(rule: MetricRule, record: Record, context: Mapping[str, Any]) -> dict[str, Any] | None:
    fields: dict[str, Any] = {**context, **record}
    for name, pattern in rule.when.items():
        if not _regex(pattern).search(str(fields.get(name, ""))):
            return None
    for name, pattern in rule.extract.items():
        match = _regex(pattern).search(str(fields.get(name, "")))
        if match is None:
            return None
        fields.update({k: v for k, v in match.groupdict().items() if v is not None})
    return fields


def emit_records(
    rules: Iterable[MetricRule],
    records: list[Record],
    context: Mapping[str, Any],
    sink: MetricSink,
) -> int:
    """Add one sample per rule and matching record; returns the number of samples added."""
    added = 0
    for rule in rules:
        known = catalogue()[rule.name]
        mtype: MetricType = "counter" if known.type == "counter" else "gauge"
        family = sink.family(rule.name, known.help, mtype, known.labels)
        for record in records:
            fields = _fields(rule, record, context)
            if fields is None:
                continue
            value = _value(rule.value, fields)
            if value is None:
                continue
            key = tuple(render(t, fields) for t in rule.labels.values())
            family.samples[key] = value
            added += 1
    return added
