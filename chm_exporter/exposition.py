"""A per-request metric sink and its Prometheus text rendering.

Each probe gets a fresh :class:`MetricSink`; probers add samples to it and the handler renders
it once. It is a plain data structure rather than a prometheus_client registry: a 900-interface
switch yields tens of thousands of samples per scrape, and building client_python metric objects
for each costs more CPU than the SNMP walk itself. Samples of the same family and label values
overwrite each other, so a scrape never exposes a duplicate series.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Literal

MetricType = Literal["gauge", "counter", "untyped"]
Number = int | float
LabelValues = tuple[str, ...]


@dataclass(slots=True)
class Family:
    """One metric family: name, help, type, fixed label names, samples by label values."""

    name: str
    help: str
    type: MetricType
    label_names: tuple[str, ...]
    samples: dict[LabelValues, Number] = field(default_factory=dict)


class MetricSink:
    """Collects the metric families of one probe."""

    def __init__(self) -> None:
        self._families: dict[str, Family] = {}

    def family(
        self, name: str, help_text: str, mtype: MetricType, label_names: Iterable[str] = ()
    ) -> Family:
        """Return the family `name`, creating it on first use.

        Raises:
            ValueError: the family exists with other label names or another type.
        """
        labels = tuple(label_names)
        fam = self._families.get(name)
        if fam is None:
            fam = Family(name, help_text, mtype, labels)
            self._families[name] = fam
        elif fam.label_names != labels or fam.type != mtype:
            raise ValueError(
                f"metric {name} defined twice: {fam.type}{list(fam.label_names)} "
                f"and {mtype}{list(labels)}"
            )
        return fam

    def add(
        self,
        name: str,
        value: Number,
        labels: Mapping[str, str] | None = None,
        help_text: str = "",
        mtype: MetricType = "gauge",
    ) -> None:
        """Add one sample (convenience for code that emits few samples)."""
        labels = labels or {}
        fam = self.family(name, help_text, mtype, labels.keys())
        fam.samples[tuple(labels.values())] = value

    def merge(self, other: MetricSink) -> None:
        """Add every sample of `other` into this sink."""
        for fam in other._families.values():
            mine = self.family(fam.name, fam.help, fam.type, fam.label_names)
            mine.samples.update(fam.samples)

    def take(self, other: MetricSink) -> None:
        """Move every sample of `other` into this sink, leaving `other` empty: a family this
        sink does not have yet is taken over as it is, not copied (a prober's thousand samples
        into the probe's answer).

        Raises:
            ValueError: a family exists in both with other label names or another type.
        """
        families = self._families
        for name, fam in other._families.items():
            if name in families:
                mine = self.family(name, fam.help, fam.type, fam.label_names)
                mine.samples.update(fam.samples)
            else:
                families[name] = fam
        other._families = {}

    def __iter__(self) -> Iterator[Family]:
        return iter(self._families.values())

    def get(self, name: str) -> Family | None:
        """The family `name`, if any sample or declaration made it."""
        return self._families.get(name)

    def render(self) -> str:
        """Render all families in the Prometheus text format 0.0.4."""
        out: list[str] = []
        append = out.append
        # Many families share label sets (18 interface metrics per ifIndex): format each once.
        rendered: dict[tuple[str, ...], dict[LabelValues, str]] = {}
        for fam in self._families.values():
            samples = fam.samples
            if not samples:
                continue
            name = fam.name
            append(f"# HELP {name} {_escape_help(fam.help)}\n# TYPE {name} {fam.type}\n")
            names = fam.label_names
            if not names:
                out.extend(f"{name} {format_value(value)}\n" for value in samples.values())
                continue
            pairs_of = rendered.get(names)
            if pairs_of is None:
                pairs_of = rendered[names] = {}
            template = _pairs_template(names)
            start = name + "{"
            known = pairs_of.get
            for values, value in samples.items():
                pairs = known(values)
                if pairs is None:
                    pairs = pairs_of[values] = _label_pairs(template, values)
                if type(value) is int:  # most samples: no need for format_value's checks
                    append(f"{start}{pairs}}} {value}\n")
                else:
                    append(f"{start}{pairs}}} {format_value(value)}\n")
        return "".join(out)


def format_value(value: Number) -> str:
    """Format a sample value; integers stay exact however large (Counter64 above 2**53)."""
    if isinstance(value, int):
        return str(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


@lru_cache(maxsize=256)
def _pairs_template(names: tuple[str, ...]) -> str:
    """`a="%s",b="%s"` for label names a, b (a name holds no `%` and needs no escaping)."""
    return ",".join(f'{n}="%s"' for n in names)


def _label_pairs(template: str, values: LabelValues) -> str:
    """The label pairs of one sample, its values escaped."""
    joined = "".join(values)
    if "\\" in joined or '"' in joined or "\n" in joined:
        values = tuple(_escape_label(v) for v in values)
    return template % values


def _escape_label(value: str) -> str:
    if "\\" in value or '"' in value or "\n" in value:
        return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return value


def _escape_help(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n")
