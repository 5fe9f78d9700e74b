"""The rules' threshold table: the one place CHM's alert and dashboard thresholds are set.

The table is the comment block at the top of rules/alerts.yml, one row per threshold::

    # threshold:cpu_high                 0.90      CPU busy share, sustained 5 m (...)

The dashboard generator reads its thresholds from here; tests/kit/test_rules.py checks every
literal the alert expressions name against the same rows. Standard library only.
"""

from __future__ import annotations

import re
from pathlib import Path

__all__ = ["ALERTS", "THRESHOLD_ROW", "Thresholds", "parse_table", "read_table"]

ALERTS = Path(__file__).resolve().parents[1] / "rules" / "alerts.yml"
#: one row of the table: `# threshold:<name>  <value>  <meaning>`
THRESHOLD_ROW = re.compile(r"^# threshold:(?P<name>[a-z0-9_]+)\s+(?P<value>-?[0-9.]+)\s+\S")

#: threshold name -> value (an int where the table writes one, so JSON shows `600`, not `600.0`)
Thresholds = dict[str, float]


def parse_table(text: str) -> Thresholds:
    """The threshold rows of an alerts.yml text; raise when a name repeats."""
    table: Thresholds = {}
    for match in map(THRESHOLD_ROW.match, text.splitlines()):
        if match is None:
            continue
        name, value = match["name"], match["value"]
        if name in table:
            raise ValueError(f"threshold {name} is set twice in the table")
        table[name] = float(value) if "." in value else int(value)
    return table


def read_table(path: Path = ALERTS) -> Thresholds:
    """The threshold table of rules/alerts.yml (or of another alerts file)."""
    return parse_table(path.read_text(encoding="utf-8"))
