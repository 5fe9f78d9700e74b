"""What every probe of every corpus walk must satisfy (issue 12): no two series with one label
set (``parse_exposition`` refuses the text), no row lost to another's label set (the SNMP
prober logs it), no value outside the catalogue's range, and a named vendor."""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from chm_exporter.catalogue import catalogue
from tests.integration.exposition import SampleKey

LOST_ROWS = "samples replaced another row's"
"""What the SNMP prober logs when rows collapsed into one series (see probers/snmp)."""


def impossible_values(samples: Mapping[SampleKey, float]) -> list[str]:
    """Every chm_* sample that is not finite or falls outside its catalogue range."""
    problems = []
    for (name, labels), value in samples.items():
        known = catalogue().get(name)
        if known is None or not name.startswith("chm_"):
            continue
        low, high = known.range or (None, None)
        if (
            not math.isfinite(value)
            or (low is not None and value < low)
            or (high is not None and value > high)
        ):
            problems.append(f"{name}{dict(labels)} = {value}")
    return problems


def vendor(samples: Mapping[SampleKey, float]) -> str:
    """The vendor chm_device_info names ("" when none)."""
    for (name, labels), _value in samples.items():
        if name == "chm_device_info":
            return dict(labels).get("vendor", "")
    return ""


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.lost: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if LOST_ROWS in text:
            self.lost.append(f"{getattr(record, 'probe_target', '?')}: {text}")


@contextmanager
def lost_rows() -> Iterator[list[str]]:
    """Collect, while open, every probe's report of rows lost to another row's label set."""
    handler = _Collect()
    logger = logging.getLogger("chm_exporter.probe")
    logger.addHandler(handler)
    try:
        yield handler.lost
    finally:
        logger.removeHandler(handler)
