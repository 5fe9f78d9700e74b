"""A small strict parser of the Prometheus text format for assertions."""

from __future__ import annotations

import re

_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$")
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')

SampleKey = tuple[str, tuple[tuple[str, str], ...]]


def parse_exposition(text: str) -> dict[SampleKey, float]:
    """Samples by (name, sorted labels); fails on a malformed line or a duplicate series."""
    out: dict[SampleKey, float] = {}
    for line in text.split("\n"):
        if not line or line.startswith("#"):
            continue
        match = _SAMPLE.match(line)
        assert match, f"malformed exposition line: {line!r}"
        name, raw_labels, value = match.groups()
        labels = tuple(
            sorted(
                (k, v.replace('\\"', '"').replace("\\n", "\n").replace("\\\\", "\\"))
                for k, v in _LABEL.findall(raw_labels or "")
            )
        )
        key = (name, labels)
        assert key not in out, f"duplicate series {key}"
        out[key] = int(value) if re.fullmatch(r"-?\d+", value) else float(value)
    return out
