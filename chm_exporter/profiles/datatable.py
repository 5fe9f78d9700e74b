"""The package's tab-separated data tables (``profiles/data/*.tsv``): one key and one value per
line, ``#`` comment lines; written by scripts, read once."""

from __future__ import annotations

from functools import cache
from importlib import resources


@cache
def read_table(name: str) -> dict[str, str]:
    """Key → value of the table file `name` in ``chm_exporter/profiles/data`` (read once)."""
    text = resources.files("chm_exporter.profiles.data").joinpath(name).read_text()
    table: dict[str, str] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.partition("\t")
            table[key] = value.strip()
    return table
