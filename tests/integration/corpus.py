"""Facts read straight from the corpus' .snmprec files, to check the exporter against."""

from __future__ import annotations

import re
from functools import cache

from tests.servers.corpus_location import snmprec_dir

SNMPREC = snmprec_dir()

_IFTABLE_ROW = re.compile(r"^1\.3\.6\.1\.2\.1\.(?:2\.2\.1|31\.1\.1\.1)\.\d+\.(\d+)$")


def communities() -> list[str]:
    """snmpsim community of every recorded device: its path below snmprec/ without suffix."""
    return sorted(
        str(p.relative_to(SNMPREC))[: -len(".snmprec")] for p in SNMPREC.rglob("*.snmprec")
    )


@cache
def recording(community: str) -> dict[str, tuple[str, str]]:
    """OID → (snmprec type tag, value text) of one device."""
    out: dict[str, tuple[str, str]] = {}
    with (SNMPREC / f"{community}.snmprec").open(encoding="utf-8", errors="replace") as fh:
        for line in fh:
            parts = line.rstrip("\n").split("|", 2)
            if len(parts) == 3:
                out[parts[0]] = (parts[1], parts[2])
    return out


def column(community: str, oid: str) -> dict[str, str]:
    """Index → value text of one column."""
    prefix = oid + "."
    return {
        k[len(prefix) :]: v for k, (_t, v) in recording(community).items() if k.startswith(prefix)
    }


def interface_rows(community: str) -> set[str]:
    """ifIndex of every ifTable or ifXTable row the recording holds (any column)."""
    return {m.group(1) for k in recording(community) if (m := _IFTABLE_ROW.match(k))}
