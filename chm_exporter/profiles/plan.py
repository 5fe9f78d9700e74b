"""Which OIDs a set of profiles needs: instance OIDs to GET and columns to walk, each once."""

from __future__ import annotations

from collections.abc import Iterable

from chm_exporter.profiles.model import Condition, LabelSpec, Profile, Table
from chm_exporter.walk import WalkPlan


def plan_walks(profiles: Iterable[Profile]) -> WalkPlan:
    """Collect the OIDs the profiles read, deduplicated, in first-use order."""
    gets: dict[str, None] = {}
    walks: dict[str, None] = {}
    labels: set[str] = set()
    values: set[str] = set()
    for profile in profiles:
        for spec in profile.device_info.values():
            target = walks if spec.table else gets
            target.update(dict.fromkeys(_label_oids(spec)))
            if spec.table:
                walks.update(dict.fromkeys(_condition_oids(spec.where)))
        for table in profile.tables:
            (gets if table.scalar else walks).update(dict.fromkeys(_table_oids(table)))
            if not table.scalar:
                label_oids, value_oids = _table_roles(table)
                labels |= label_oids
                values |= value_oids
    return WalkPlan(gets=list(gets), walks=list(walks), lookups=frozenset(labels - values))


def _table_roles(table: Table) -> tuple[set[str], set[str]]:
    """Columns a table reads only as label text, and columns that carry values, keys or rows.

    A `rows:` column decides which series exist (an LLDP neighbour, an interface): read from
    a cache, a neighbour that went away would stay for the cache's lifetime.
    """
    specs = [*table.labels.values(), *(s for m in table.metrics for s in m.labels.values())]
    labels = {oid for spec in specs for oid in spec.oid or ()}
    values = set(table.rows or ()) | set(_condition_oids(table.where))
    values |= {spec.key.oid for spec in specs if spec.key is not None and spec.key.oid}
    # an index-suffix column's rows follow the neighbours': walked with them, never cached
    values |= {spec.index_suffix_of for spec in specs if spec.index_suffix_of}
    for metric in table.metrics:
        values |= {s.oid for s in metric.sources}
        values |= {oid for s in metric.sources for oid in (*s.minus, *s.plus)}
        for total in (t for s in metric.sources for t in (*s.minus_rows, *s.plus_rows)):
            values |= {total.oid, *_condition_oids(total.where)}
            values |= {total.at_most} if total.at_most else set()
        values |= {f.oid for f in metric.factors}
    return labels, values


def _condition_oids(conditions: list[Condition]) -> list[str]:
    """The columns `where:` tests, and the key columns that find the row to test."""
    oids: list[str] = []
    for cond in conditions:
        if cond.oid is not None:
            oids.append(cond.oid)
        if cond.key is not None and cond.key.oid is not None:
            oids.append(cond.key.oid)
    return oids


def _label_oids(spec: LabelSpec) -> list[str]:
    oids = list(spec.oid or [])
    if spec.key is not None and spec.key.oid is not None:
        oids.append(spec.key.oid)
    if spec.format_by is not None:
        oids.append(spec.format_by.oid)
    if spec.index_suffix_of is not None:
        oids.append(spec.index_suffix_of)
    return oids


def _table_oids(table: Table) -> list[str]:
    oids: list[str] = list(table.rows or [])
    oids += _condition_oids(table.where)
    for spec in table.labels.values():
        oids += _label_oids(spec)
    for metric in table.metrics:
        oids += [s.oid for s in metric.sources]
        oids += [oid for s in metric.sources for oid in (*s.minus, *s.plus)]
        for total in (t for s in metric.sources for t in (*s.minus_rows, *s.plus_rows)):
            oids += [total.oid, *_condition_oids(total.where)]
            oids += [total.at_most] if total.at_most else []
        oids += [f.oid for f in metric.factors]
        for spec in metric.labels.values():
            oids += _label_oids(spec)
    return oids
