"""Vendor slugs by IANA Private Enterprise Number (``profiles/data/enterprises.tsv``, written by
``scripts/enterprises.py``): a device no profile knows still names its vendor from the number
after 1.3.6.1.4.1 in its sysObjectID."""

from __future__ import annotations

from functools import cache

from chm_exporter.profiles.datatable import read_table

ENTERPRISES_FILE = "enterprises.tsv"
ENTERPRISE_PREFIX = "1.3.6.1.4.1."


@cache
def enterprise_slugs() -> dict[int, str]:
    """Every enterprise number with its vendor slug (read once)."""
    return {int(number): slug for number, slug in read_table(ENTERPRISES_FILE).items()}


def vendor_of(sys_object_id: str) -> str | None:
    """The vendor slug of a sysObjectID under 1.3.6.1.4.1 (None: another tree, or a number
    the registry does not know)."""
    oid = sys_object_id.strip().lstrip(".")
    if not oid.startswith(ENTERPRISE_PREFIX):
        return None
    number = oid[len(ENTERPRISE_PREFIX) :].split(".", 1)[0]
    return enterprise_slugs().get(int(number)) if number.isdigit() else None
