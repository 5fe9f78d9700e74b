"""Write chm_exporter/profiles/data/products.tsv: the product name a vendor's PRODUCTS MIB gives
each sysObjectID, so that a device whose profiles find no model in what it answers (an old
Catalyst without ENTITY-MIB) is still named by the product it says it is.

The source is the vendor's MIB module as published for SNMP managers; today Cisco's
``CISCO-PRODUCTS-MIB`` (Cisco Systems; every NMS ships it, e.g. LibreNMS in
``mibs/cisco/``, netdisco-mibs in ``cisco/``). Only its ``OBJECT IDENTIFIER`` assignments are
read, the object's name becoming the product name (LibreNMS shows the same name):

    .venv/bin/python scripts/products.py CISCO-PRODUCTS-MIB [MORE-PRODUCTS-MIB ...]

The same MIB files always give the same file.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OUTPUT = REPO / "chm_exporter" / "profiles" / "data" / "products.tsv"

ROOTS = {
    "enterprises": "1.3.6.1.4.1",
    "cisco": "1.3.6.1.4.1.9",
    "ciscoProducts": "1.3.6.1.4.1.9.1",
}
"""Parents a PRODUCTS MIB imports (from its vendor's SMI module) rather than defines."""

_ASSIGNMENT = re.compile(
    r"^\s*([a-zA-Z][\w-]*)\s+OBJECT\s+IDENTIFIER\s*::=\s*\{\s*([a-zA-Z][\w-]*)\s+(\d+)\s*\}"
)


def parse_assignments(text: str) -> dict[str, tuple[str, int]]:
    """Object name → (parent name, number), from a MIB's ``OBJECT IDENTIFIER`` lines (comments,
    including commented-out assignments, left out)."""
    out: dict[str, tuple[str, int]] = {}
    for line in text.splitlines():
        match = _ASSIGNMENT.match(line.split("--", 1)[0])
        if match:
            out[match.group(1)] = (match.group(2), int(match.group(3)))
    return out


def resolve(assignments: dict[str, tuple[str, int]]) -> dict[str, str]:
    """Numeric OID → object name for every assignment whose parents lead to a known root."""
    oids: dict[str, str] = dict(ROOTS)

    def oid_of(name: str, trail: tuple[str, ...] = ()) -> str | None:
        if name in oids:
            return oids[name]
        if name not in assignments or name in trail:
            return None
        parent, number = assignments[name]
        base = oid_of(parent, (*trail, name))
        if base is None:
            return None
        oids[name] = f"{base}.{number}"
        return oids[name]

    return {oid: name for name in assignments if (oid := oid_of(name)) is not None}


def _key(oid: str) -> tuple[int, ...]:
    return tuple(int(part) for part in oid.split("."))


def render(products: dict[str, str], sources: list[str]) -> str:
    """The package file: a header naming the sources, then ``oid<TAB>name`` in OID order."""
    lines = [
        "# Product names by sysObjectID: oid<TAB>name. Written by scripts/products.py from",
        f"# {', '.join(sources)}; do not edit.",
    ]
    lines += [f"{oid}\t{products[oid]}" for oid in sorted(products, key=_key)]
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    products: dict[str, str] = {}
    for path in argv:
        products.update(resolve(parse_assignments(Path(path).read_text(errors="replace"))))
    OUTPUT.write_text(render(products, [Path(p).name for p in argv]), encoding="utf-8")
    print(f"{OUTPUT.relative_to(REPO)}: {len(products)} products")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
