"""What one scrape asks an SNMP agent (`WalkPlan`) and what it read (`WalkResult`).

A leaf shared by the transport, which executes a plan and fills a result, and the profiles
engine, which plans from profiles and evaluates a result; neither knows the other.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

RawValue = None | str | bytes | int | float
"""A value as gufo-snmp returns it."""


@dataclass(slots=True)
class WalkPlan:
    """The requests one scrape makes: every OID appears once however many profiles use it."""

    gets: list[str] = field(default_factory=list)
    walks: list[str] = field(default_factory=list)
    lookups: frozenset[str] = frozenset()
    """Walked columns read only for labels (names, aliases): these may be cached per device."""

    def __len__(self) -> int:
        return len(self.gets) + len(self.walks)


@dataclass(slots=True)
class WalkResult:
    """What one scrape read: for each column (or instance OID) its values by row index.

    Instance OIDs read with GET are stored under the index ``""``.
    """

    columns: dict[str, dict[str, RawValue]] = field(default_factory=dict)
    _suffixes: dict[tuple[str, int], dict[str, str]] = field(default_factory=dict)

    def column(self, oid: str) -> Mapping[str, RawValue]:
        """Values of a column by row index (empty when the agent had none)."""
        return self.columns.get(oid, _EMPTY)

    def index_suffix(self, oid: str, index: str) -> str | None:
        """The rest of the index of the first row of column `oid` whose index begins with
        `index` (lldpRemManAddrTable is indexed by a neighbour's index, then its address)."""
        depth = index.count(".") + 1
        suffixes = self._suffixes.get((oid, depth))
        if suffixes is None:
            suffixes = self._suffixes[(oid, depth)] = {}
            for key in self.column(oid):
                parts = key.split(".", depth)
                if len(parts) > depth:
                    suffixes.setdefault(".".join(parts[:depth]), parts[depth])
        return suffixes.get(index)

    def add_scalar(self, oid: str, value: RawValue) -> None:
        """Record the value of an instance OID read with GET."""
        self.columns[oid] = {"": value}

    def start_column(self, column: str) -> dict[str, RawValue]:
        """An empty column `column` (replacing what it held), to be filled row by row."""
        bucket: dict[str, RawValue] = {}
        self.columns[column] = bucket
        return bucket

    def add_walked(self, column: str, pairs: Iterable[tuple[str, RawValue]]) -> None:
        """Record the (oid, value) pairs a walk of `column` returned, by row index."""
        cut = len(column) + 1
        bucket = self.columns.setdefault(column, {})
        for oid, value in pairs:
            bucket[oid[cut:]] = value


_EMPTY: Mapping[str, RawValue] = {}
