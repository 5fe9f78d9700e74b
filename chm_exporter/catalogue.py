"""The metric catalogue (``chm_exporter/catalogue.yaml``): every metric name the exporter emits,
once, with its type, label names, unit, HELP text and sane range.

Profiles name a ``chm_*`` metric and add only where a vendor's value comes from; the loader
takes its HELP and type from here and refuses a profile that disagrees with it. Code that emits
metrics itself (the handler, the probers, the exporter's /metrics) takes them from here too,
through :func:`declared`, which refuses at import a name or label set the catalogue lacks. The
docs page ``docs/metrics.md`` is written from it (``scripts/metrics_doc.py``).
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from chm_exporter.errors import ConfigError

CATALOGUE_FILE = "catalogue.yaml"
CATALOGUE_PATH = f"chm_exporter/{CATALOGUE_FILE}"
RESERVED_PREFIXES = ("chm_", "probe_")
"""A profile metric with one of these prefixes must be in the catalogue; other names
(snmp_exporter's compat names, a site's own metrics) declare their own help in the profile."""

DROP_REASONS = ("no_reading", "out_of_range", "not_finite", "negative_counter")
"""Why a sample a profile computed is not exposed (chm_exporter_samples_dropped_total{reason}):
the agent's "no reading" sentinel, outside the metric's range, NaN or infinite (or beyond a
float), a counter below zero."""

MetricType = Literal["gauge", "counter", "info", "histogram"]
Unit = Literal[
    "seconds", "bytes", "bits_per_second", "ratio", "celsius", "volts", "amperes", "watts",
    "dbm", "rpm",
]  # fmt: skip
EmittedBy = Literal["profiles", "device_info", "probers", "exporter"]

_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
_LABEL = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
_UNITS: tuple[str, ...] = Unit.__args__  # type: ignore[attr-defined]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MetricDef(_Model):
    """One metric name: what it means, its type, label names, unit and sane range."""

    name: str
    type: MetricType
    help: str = Field(min_length=1)
    labels: tuple[str, ...] = ()
    unit: Unit | None = None
    range: tuple[float | None, float | None] | None = Field(
        default=None, description="[min, max] of a sane value; null for an open end"
    )
    emitted_by: EmittedBy | None = Field(default=None, description="default: the group's")
    distinct_by: str | None = Field(
        default=None,
        description="label that tells two rows of the same name apart (default: the first)",
    )

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError(f"{value!r} is not a valid metric name")
        return value

    @field_validator("labels")
    @classmethod
    def _labels(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for label in value:
            if not _LABEL.match(label):
                raise ValueError(f"{label!r} is not a valid label name")
        if len(set(value)) != len(value):
            raise ValueError(f"a label name is repeated in {list(value)}")
        return value

    @field_validator("help")
    @classmethod
    def _one_line(cls, value: str) -> str:
        return " ".join(value.split())

    @model_validator(mode="after")
    def _conventions(self) -> MetricDef:
        name = self.name
        if self.distinct_by is not None and self.distinct_by not in self.labels:
            raise ValueError(f"{name}: distinct_by {self.distinct_by!r} is not one of its labels")
        if self.range is not None:
            low, high = self.range
            if low is None and high is None:
                raise ValueError(f"{name}: range [null, null] says nothing; leave it out")
            if low is not None and high is not None and low > high:
                raise ValueError(f"{name}: range [{low}, {high}] has min above max")
        if (self.type == "counter") != name.endswith("_total"):
            raise ValueError(f"{name}: a counter's name ends with _total, and only a counter's")
        if (self.type == "info") != name.endswith("_info"):
            raise ValueError(f"{name}: an info metric's name ends with _info, and only its")
        stem = name.removesuffix("_total")
        if self.unit is not None and f"_{self.unit}" not in stem:
            raise ValueError(f"{name}: unit {self.unit} is not in the name")
        named = [u for u in _UNITS if stem.endswith(f"_{u}")]
        if named and self.unit is None:
            raise ValueError(f"{name}: the name ends with unit {named[0]}; declare `unit:`")
        return self

    @property
    def distinct_label(self) -> int | None:
        """Position of the label a clash of label sets is told apart by (None: no label)."""
        if not self.labels:
            return None
        return self.labels.index(self.distinct_by) if self.distinct_by else 0


class Group(_Model):
    """Metrics documented together (a section of docs/metrics.md)."""

    title: str
    emitted_by: EmittedBy
    about: str = ""
    metrics: list[MetricDef] = Field(min_length=1)


class Catalogue(_Model):
    """The whole catalogue file."""

    groups: list[Group] = Field(min_length=1)
    _by_name: dict[str, MetricDef] = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _unique(self) -> Catalogue:
        seen: set[str] = set()
        for group in self.groups:
            for metric in group.metrics:
                if metric.name in seen:
                    raise ValueError(f"metric {metric.name} is declared twice")
                seen.add(metric.name)
        return self

    def emitter(self, metric: MetricDef) -> EmittedBy:
        """Which part of the exporter emits `metric`."""
        if metric.emitted_by is not None:
            return metric.emitted_by
        return next(g.emitted_by for g in self.groups if metric in g.metrics)

    def get(self, name: str) -> MetricDef | None:
        """The metric called `name`, if declared."""
        return self._by_name.get(name)

    def __getitem__(self, name: str) -> MetricDef:
        return self._by_name[name]

    def metrics(self) -> list[MetricDef]:
        """Every metric, in file order."""
        return list(self._by_name.values())

    def model_post_init(self, context: Any, /) -> None:
        self._by_name = {m.name: m for g in self.groups for m in g.metrics}


def parse_catalogue(text: str, source: str) -> Catalogue:
    """Parse and validate a catalogue file.

    Raises:
        ConfigError: naming the file and the problem.
    """
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: not valid YAML: {exc}") from exc
    try:
        return Catalogue.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg'].removeprefix('Value error, ')}"
            for e in exc.errors()
        )
        raise ConfigError(f"{source}: {problems}") from exc


@cache
def catalogue() -> Catalogue:
    """The shipped catalogue (read once)."""
    text = resources.files("chm_exporter").joinpath(CATALOGUE_FILE).read_text(encoding="utf-8")
    return parse_catalogue(text, CATALOGUE_PATH)


class UndeclaredMetricError(LookupError):
    """Code emits a metric the catalogue does not declare, or not as declared (a bug, not a
    configuration error: hence outside the ``ChmError`` tree)."""


def declared(name: str, labels: tuple[str, ...] = (), mtype: MetricType = "gauge") -> MetricDef:
    """The catalogue's entry for a metric the code emits itself, checked against how it does.

    Probers and the self-metrics call this once per metric at import, so a name missing from the
    catalogue, or emitted with other labels or another type, breaks every import of the module
    (and so every test) instead of reaching an exposition.

    Args:
        name: the exposed name (a counter's with `_total`, an info metric's with `_info`).
        labels: the label names the code gives it, in order.
        mtype: the type the code gives it.

    Raises:
        UndeclaredMetricError: naming the metric and the difference.
    """
    known = catalogue().get(name)
    if known is None:
        raise UndeclaredMetricError(f"{name} is emitted by code but not in {CATALOGUE_PATH}")
    if (known.labels, known.type) != (labels, mtype):
        raise UndeclaredMetricError(
            f"{name}: emitted as a {mtype} with labels {list(labels)}, declared in "
            f"{CATALOGUE_PATH} as a {known.type} with labels {list(known.labels)}"
        )
    return known
