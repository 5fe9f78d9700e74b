"""Write chm_exporter/profiles/data/enterprises.tsv: the IANA Private Enterprise Numbers with a
short, stable vendor slug each, so that a device no profile knows still names its vendor
(the number after 1.3.6.1.4.1 in its sysObjectID).

The registry comes from Debian's ``libwireshark-data`` (``/usr/share/wireshark/enterprises.tsv``,
installed by scripts/setup.sh); ``scripts/enterprise_slugs.yaml`` names the vendors whose
registry name does not make a good slug by itself (``American Power Conversion Corp.`` is
``apc``) and keeps those equal to the vendor words of our profiles.

    .venv/bin/python scripts/enterprises.py [registry.tsv]

A slug is the organisation's name without what follows a comma or parenthesis, without legal
suffixes (Inc, Ltd, Corp, GmbH, ...), lower-cased, with runs of other characters as ``_``, at
most three words. The same registry always gives the same file.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
REGISTRY = Path("/usr/share/wireshark/enterprises.tsv")
OVERRIDES = REPO / "scripts" / "enterprise_slugs.yaml"
OUTPUT = REPO / "chm_exporter" / "profiles" / "data" / "enterprises.tsv"
MAX_WORDS = 3

_LINE = re.compile(r"^(\d+)\s+(.*?)\s*(?:#.*)?$")
_CUT = re.compile(r"[,(\[]|\s-\s|\bhttps?://|\bformerly\b", re.IGNORECASE)
_LEGAL = {
    "ab", "ag", "as", "asa", "bv", "b", "v", "co", "company", "corp", "corporation", "gmbh",
    "inc", "incorporated", "kg", "limited", "llc", "ltd", "ltda", "nv", "oy", "plc", "pte",
    "pty", "s", "a", "sa", "sarl", "sas", "spa", "srl", "the",
}  # fmt: skip
_NOT_WORD = re.compile(r"[^a-z0-9]+")


def slug(name: str) -> str:
    """A short vendor slug for a registry name (``Fortinet, Inc.`` → ``fortinet``)."""
    head = _CUT.split(name, maxsplit=1)[0]
    words = [w for w in _NOT_WORD.split(head.casefold()) if w]
    while len(words) > 1 and words[-1] in _LEGAL:
        words.pop()
    while len(words) > 1 and words[0] == "the":
        words.pop(0)
    return "_".join(words[:MAX_WORDS])


def parse_registry(text: str) -> dict[int, str]:
    """Number → organisation name, from Wireshark's enterprises.tsv."""
    out: dict[int, str] = {}
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        match = _LINE.match(line)
        if match and match.group(2):
            out[int(match.group(1))] = match.group(2)
    return out


def render(registry: dict[int, str], overrides: dict[int, str]) -> str:
    """The package file: a header, then ``number<TAB>slug`` for every numbered organisation."""
    lines = [
        "# IANA Private Enterprise Numbers: number<TAB>vendor slug. Written by",
        "# scripts/enterprises.py from Wireshark's copy of",
        "# https://www.iana.org/assignments/enterprise-numbers; do not edit.",
    ]
    for number in sorted(registry):
        value = overrides.get(number) or slug(registry[number])
        if value and value not in {"reserved", "unassigned"}:
            lines.append(f"{number}\t{value}")
    return "\n".join(lines) + "\n"


def load_overrides(path: Path = OVERRIDES) -> dict[int, str]:
    """Number → slug where the registry name does not give the vendor's word."""
    return {int(k): str(v) for k, v in yaml.safe_load(path.read_text()).items()}


def main(argv: list[str]) -> int:
    """Regenerate the package file from the registry (argv[1], else Debian's copy)."""
    source = Path(argv[1]) if len(argv) > 1 else REGISTRY
    if not source.exists():
        print(f"{source} not found: apt-get install libwireshark-data", file=sys.stderr)
        return 1
    registry = parse_registry(source.read_text(encoding="utf-8"))
    OUTPUT.write_text(render(registry, load_overrides()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
