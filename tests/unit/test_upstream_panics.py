"""docs/upstream/gufo-snmp-panics.md stays true: each reply it lists makes the pinned
gufo-snmp panic, reproduced by the script the page gives."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[2] / "docs" / "upstream"
ROWS = re.findall(
    r"^\| [^|]+ \| `(get|getnext)` \| `([0-9a-fRID ]+)` \| `([^`]+)`: (.+) \|$",
    (DOCS / "gufo-snmp-panics.md").read_text(),
    re.MULTILINE,
)


def test_the_page_lists_four_panics() -> None:
    assert len(ROWS) == 4


@pytest.mark.parametrize(("op", "reply", "site", "message"), ROWS, ids=[r[2] for r in ROWS])
def test_each_documented_reply_panics(op: str, reply: str, site: str, message: str) -> None:
    out = subprocess.run(
        [sys.executable, str(DOCS / "gufo_snmp_panic.py"), op, reply.replace(" ", "")],
        capture_output=True,
        text=True,
        timeout=30,
        env={"RUST_BACKTRACE": "0", "PATH": "/usr/bin:/bin"},
        check=False,
    )
    assert f"PanicException: {message}" in out.stdout, out.stdout + out.stderr
    assert site in out.stderr
