"""Durations in the configuration, written the Prometheus way (`500ms`, `5s`, `1m`, `1h30m`)
or as a plain number of seconds (`2`, `0.5`).

:data:`Duration` is a float of seconds for pydantic models; range limits stay on the field
(``timeout: Duration = Field(default=2.0, gt=0, le=60)``).
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import BeforeValidator

__all__ = ["Duration", "parse_duration"]

#: Prometheus' duration syntax: units from the largest to the smallest, each at most once.
_PROMETHEUS = re.compile(
    r"(?:(?P<y>\d+)y)?(?:(?P<w>\d+)w)?(?:(?P<d>\d+)d)?(?:(?P<h>\d+)h)?"
    r"(?:(?P<m>\d+)m)?(?:(?P<s>\d+)s)?(?:(?P<ms>\d+)ms)?"
)
_SECONDS = re.compile(r"\d+(?:\.\d+)?")
_UNIT_SECONDS = {"y": 31_536_000, "w": 604_800, "d": 86_400, "h": 3_600, "m": 60, "s": 1}
_HINT = "use a Prometheus duration such as 500ms, 5s, 1m or 1h30m, or a number of seconds"


def parse_duration(value: object) -> float:
    """Seconds of a duration: a number, a numeric string, or a Prometheus duration string.

    Raises:
        ValueError: anything else (the message shows the accepted forms, never the value: a
            secret pasted into the wrong field must not reach a log).
    """
    if isinstance(value, bool):
        raise ValueError(f"invalid duration: {_HINT}")
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        text = value.strip()
        if _SECONDS.fullmatch(text):
            return float(text)
        match = _PROMETHEUS.fullmatch(text)
        if text and match:
            parts = match.groupdict()
            ms = int(parts.pop("ms") or 0)
            return sum(int(n) * _UNIT_SECONDS[u] for u, n in parts.items() if n) + ms / 1000
    raise ValueError(f"invalid duration: {_HINT}")


#: Seconds, from a number or a Prometheus duration string.
Duration = Annotated[float, BeforeValidator(parse_duration)]
