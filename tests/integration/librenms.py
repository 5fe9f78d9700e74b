"""LibreNMS as an independent oracle: what it discovers from a walk against what we export.

LibreNMS keeps, beside each of its test walks, the JSON of what its modules found in it (see
the corpus README: "LibreNMS's expectations"). This module reads those expectations, reads our
``module=auto`` exposition of the same walk, and decides per *item* (one LibreNMS port,
processor, pool, sensor, neighbour or identity field) whether we agree:

=============  ====================================================================
category       we agree when
=============  ====================================================================
model/version  the texts are equal, or one is a run of whole words of the other
/serial        (``CAT9K_IOSXE 17.15.2`` holds ``17.15.2``); case and a leading ``v``
               of a word are ignored; anonymised (``<private>``) or empty values are
               no expectation
ports          LibreNMS's ifIndex is one of our interfaces (``chm_interface_info``)
processors     one of our CPUs is within 1 point of its figure, or of another
               averaging window of the same CPU in the walk (5 s / 1 min / 5 min: other
               columns, other index rows, or the other figures of a text giving several)
memory_pools   one of our pools' used bytes is within 1 % of LibreNMS's used; a pool
               LibreNMS knows only as a share: our used share (used / (used + free),
               or chm_memory_utilization_ratio) within 1 point
temperatures   one of our temperatures (device or optic) is within 0.5 °C
fan_speeds     one of our fan speeds is within 1 %
optics         one of our optical powers (receive or transmit) is within 0.1 dB
fan_states     one of our fans is up exactly when LibreNMS's state is ok
psu_states     one of our supplies is up exactly when LibreNMS's state is ok (a supply
               LibreNMS lists again from another MIB, with the same entPhysicalIndex, is
               named ``... (entPhysicalIndex N again)``)
neighbours     we have a neighbour of that protocol on that local port, else any
               neighbour of that protocol left over
=============  ====================================================================

Each of ours serves at most one of theirs (a maximum bipartite matching), so a count
difference shows as disagreements. An item LibreNMS lists and we miss is a disagreement;
what we list beyond LibreNMS is not counted (its filters drop ports, its modules skip tables).
Where LibreNMS is the one that differs, ``librenms_exceptions.yaml`` names the item with the
reason; see :func:`load_exceptions` for the rules an exception must follow.
"""

from __future__ import annotations

import fnmatch
import json
import math
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from tests.integration.exposition import SampleKey
from tests.servers.corpus_location import corpus_root

CATEGORIES = (
    "model",
    "version",
    "serial",
    "ports",
    "processors",
    "memory_pools",
    "temperatures",
    "fan_speeds",
    "optics",
    "fan_states",
    "psu_states",
    "neighbours",
)
"""The categories in table order."""

OURS: Mapping[str, tuple[str, ...]] = {
    "model": ("chm_device_info",),
    "version": ("chm_device_info",),
    "serial": ("chm_device_info",),
    "ports": ("chm_interface_info", "chm_interface_up"),
    "processors": ("chm_cpu_utilization_ratio",),
    "memory_pools": ("chm_memory_used_bytes", "chm_memory_utilization_ratio"),
    "temperatures": ("chm_temperature_celsius", "chm_optic_temperature_celsius"),
    "fan_speeds": ("chm_fan_speed_rpm",),
    "optics": ("chm_optic_rx_power_dbm", "chm_optic_tx_power_dbm"),
    "fan_states": ("chm_fan_up",),
    "psu_states": ("chm_psu_up",),
    "neighbours": ("chm_neighbor_info",),
}
"""The metrics of ours each category is compared with."""

EXCEPTIONS_FILE = Path(__file__).with_name("librenms_exceptions.yaml")
FOLDERS = ("snmprec", "librenms")
_ANONYMISED = {"", "<private>"}

# State sensors: which LibreNMS state tables are fans or power supplies. Tables that list
# every field-replaceable unit (or every sensor) are sorted by the unit's name.
_FAN_STATE_TABLES = {
    "ciscoEnvMonFanState",
    "cefcFanTrayOperStatus",
    "dellNetFanTrayOperStatus",
    "hh3cdevMFanStatusTable",
    "hpicfFanState",
    "icfFanSensor",
    "hwEntityFanState",
    "os10FanOperStatus",
    "os10FanTrayOperStatus",
    "rcVossSystemFanInfoOperStatus",
}
_PSU_STATE_TABLES = {
    "ciscoEnvMonSupplyState",
    "arubaWiredPowerSupplyTable",
    "dellNetPowerSupplyOperStatus",
    "hh3cdevMPowerStatusTable",
    "hpicfPsState",
    "icfPowerSupplySensor",
    "hwPwrStatusTable",
    "os10PowerSupplyOperStatus",
    "rcChasPowerSupplyOperStatus",
}
_MIXED_STATE_TABLES = {
    "cefcFRUPowerOperStatus",
    "jnxFruTable",
    "SYSTEM-MIB::swSensorTable",
    "entStateOper",
    "fgHwSensors",
}
_FAN_NAME = re.compile(r"\bfan", re.IGNORECASE)
_PSU_NAME = re.compile(r"power[ -]?supply|\bpsu|\bpem\b|\bpwr|power module|\brps\b", re.IGNORECASE)

# Columns of one CPU's load over different windows: LibreNMS may read another than ours.
_CPU_WINDOWS = (
    # CISCO-PROCESS-MIB cpmCPUTotal 5sec, 1min, 5min and their Rev columns
    tuple(f"1.3.6.1.4.1.9.9.109.1.1.1.1.{c}" for c in (3, 4, 5, 6, 7, 8)),
    # RAPID-CITY rcKhiSlotCpuCurrentUtil, 1MinAve, 5MinAve
    tuple(f"1.3.6.1.4.1.2272.1.85.10.1.1.{c}" for c in (2, 3, 4)),
    # JUNIPER-MIB jnxOperatingCPU, 1/5/15-minute averages
    tuple(f"1.3.6.1.4.1.2636.3.1.13.1.{c}" for c in (8, 20, 21, 22)),
    # S5-CHASSIS-MIB s5ChasUtilCPUUsage total, 1 min, 10 min, 1 h, 24 h, 10 s
    tuple(f"1.3.6.1.4.1.45.1.6.3.8.1.1.{c}" for c in (4, 5, 6, 7, 8, 11)),
    # RADLAN-rndMng rlCpuUtilDuringLastSecond, LastMinute, Last5Minutes
    tuple(f"1.3.6.1.4.1.89.1.{c}" for c in (7, 8, 9)),
    # Dell/Force10: dellNetCpuUtil, S- and M-series stack units, C-series RPM and line cards
    tuple(f"1.3.6.1.4.1.6027.3.26.1.4.4.1.{c}" for c in (1, 2, 3, 4, 5)),
    tuple(f"1.3.6.1.4.1.6027.3.10.1.2.9.1.{c}" for c in (2, 3, 4)),
    tuple(f"1.3.6.1.4.1.6027.3.19.1.2.8.1.{c}" for c in (2, 3, 4)),
    tuple(f"1.3.6.1.4.1.6027.3.8.1.3.7.1.{c}" for c in (3, 4, 5)),
    tuple(f"1.3.6.1.4.1.6027.3.8.1.5.1.1.{c}" for c in (1, 2, 3)),
)


@dataclass(frozen=True, slots=True, order=True)
class Walk:
    """One recorded device with LibreNMS's expectations beside it."""

    community: str
    """Path below the corpus root without suffix (``librenms/ios/ios_6500``): the snmpsim
    community when the corpus root is the data directory."""

    @property
    def snmprec(self) -> Path:
        """The recorded walk."""
        return corpus_root() / f"{self.community}.snmprec"

    @property
    def expectations_path(self) -> Path:
        """LibreNMS's JSON."""
        return corpus_root() / f"{self.community}.json"

    @property
    def family(self) -> str:
        """LibreNMS's os of the device, else the corpus folder it sits in."""
        devices = _module(load_json(self), "os").get("devices") or [{}]
        return str(devices[0].get("os") or self.community.split("/")[1])


def walks() -> list[Walk]:
    """Every corpus walk that has a LibreNMS JSON beside it, sorted."""
    root = corpus_root()
    return sorted(
        Walk(str(path.relative_to(root).with_suffix("")))
        for folder in FOLDERS
        for path in (root / folder).rglob("*.json")
        if path.with_suffix(".snmprec").exists()
    )


@cache
def load_json(walk: Walk) -> dict[str, Any]:
    """LibreNMS's expectations of one walk."""
    data: dict[str, Any] = json.loads(walk.expectations_path.read_text(encoding="utf-8"))
    return data


@cache
def recording(walk: Walk) -> dict[str, str]:
    """OID → value text of one walk."""
    out: dict[str, str] = {}
    with walk.snmprec.open(encoding="utf-8", errors="replace") as fh:
        for line in fh:
            parts = line.rstrip("\n").split("|", 2)
            if len(parts) == 3:
                out[parts[0]] = parts[2]
    return out


def _module(data: Mapping[str, Any], name: str) -> dict[str, Any]:
    """A LibreNMS module's result: its poller part where that is data, else discovery."""
    module = data.get(name) or {}
    poller = module.get("poller")
    if isinstance(poller, dict):
        return poller
    discovery = module.get("discovery")
    return discovery if isinstance(discovery, dict) else {}


# -- what LibreNMS expects ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Expected:
    """One LibreNMS item: its name, and the values of ours that agree with it."""

    item: str
    accepts: Callable[[Observed], bool]
    shown: str
    """LibreNMS's value as text, for the report."""
    prefers: Callable[[Observed], bool] | None = None
    """Ours that should be matched first (neighbours on the same port)."""


@dataclass(frozen=True, slots=True)
class Observed:
    """One series of ours: its labels and value."""

    labels: Mapping[str, str]
    value: float
    share: float | None = None
    """Memory pools: used / (used + free) where we export both, or the pool's utilization
    ratio where the device gives only that (its value is then NaN: no byte count)."""


def expectations(walk: Walk) -> dict[str, list[Expected]]:
    """LibreNMS's items per category (a category without items is absent)."""
    data = load_json(walk)
    out: dict[str, list[Expected]] = defaultdict(list)
    _identity(data, out)
    for port in _module(data, "ports").get("ports", []):
        index = str(port["ifIndex"])
        out["ports"].append(
            Expected(
                f"ifIndex {index} {port.get('ifName') or ''}".strip(),
                _label_is("ifindex", index),
                index,
            )
        )
    _processors(walk, data, out)
    _mempools(data, out)
    _sensors(data, out)
    _neighbours(data, out)
    return {k: _unique_items(v) for k, v in out.items() if v}


def _unique_items(items: list[Expected]) -> list[Expected]:
    """Items named twice get ``#2``, ``#3`` so an exception names exactly one."""
    seen: dict[str, int] = defaultdict(int)
    out: list[Expected] = []
    for item in items:
        seen[item.item] += 1
        n = seen[item.item]
        out.append(
            item
            if n == 1
            else Expected(f"{item.item} #{n}", item.accepts, item.shown, item.prefers)
        )
    return out


def _label_is(name: str, value: str) -> Callable[[Observed], bool]:
    return lambda o: o.labels.get(name) == value


def _within(target: float, tolerance: float) -> Callable[[Observed], bool]:
    return lambda o: abs(o.value - target) <= tolerance + 1e-9


def _identity(data: Mapping[str, Any], out: dict[str, list[Expected]]) -> None:
    devices = _module(data, "os").get("devices") or []
    if not devices:
        return
    device = devices[0]
    for category, field, label in (
        ("model", "hardware", "model"),
        ("version", "version", "os_version"),
        ("serial", "serial", "serial"),
    ):
        value = str(device.get(field) or "").strip()
        if value in _ANONYMISED:
            continue
        out[category].append(Expected(category, _text_agrees(label, value), value))


_WORD_SPLIT = re.compile(r"[\s,()\[\]]+")


def _words(text: str) -> list[str]:
    return [
        w.removeprefix("v") if re.match(r"v\d", w) else w
        for w in _WORD_SPLIT.split(text.casefold())
        if w
    ]


def texts_agree(ours: str, theirs: str) -> bool:
    """Equal, or one is a run of whole words of the other (case and a ``v`` before a
    version number ignored)."""
    a, b = _words(ours), _words(theirs)
    if not a or not b:
        return False
    short, long = (a, b) if len(a) <= len(b) else (b, a)
    return any(long[i : i + len(short)] == short for i in range(len(long) - len(short) + 1))


def _text_agrees(label: str, theirs: str) -> Callable[[Observed], bool]:
    return lambda o: texts_agree(o.labels.get(label, ""), theirs)


def _processors(walk: Walk, data: Mapping[str, Any], out: dict[str, list[Expected]]) -> None:
    for proc in _module(data, "processors").get("processors", []):
        usage = proc.get("processor_usage")
        if usage is None:
            continue
        targets = {float(usage), *_other_windows(walk, str(proc.get("processor_oid") or ""))}
        out["processors"].append(
            Expected(
                str(proc.get("processor_descr") or proc.get("processor_index")),
                _cpu_within(frozenset(targets)),
                f"{usage} %",
            )
        )


def _cpu_within(targets: frozenset[float]) -> Callable[[Observed], bool]:
    """Our ratio within 1 point of one of the percentages."""
    return lambda o: any(abs(o.value * 100 - x) <= 1 + 1e-9 for x in targets)


# Columns indexed by <entity>.<window>: LibreNMS may read another window of the same entity.
_CPU_INDEX_WINDOWS = {
    # CISCO-ENTITY-QFP-MIB ceqfpUtilProcessingLoad: 5 s, 1 min, 5 min, 1 h
    "1.3.6.1.4.1.9.9.715.1.1.6.1.14": (1, 2, 3, 4),
}
_WINDOW_FIGURE = re.compile(r"\(\s*([0-9]+(?:\.[0-9]+)?)\s*%\s*\)")


def _other_windows(walk: Walk, oid: str) -> list[float]:
    """The walk's values of the same CPU over other windows, for a LibreNMS processor OID: the
    other columns of its group, or every figure of a text that gives several windows at once
    (``5 Secs ( 96.49%)   60 Secs ( 54.22%)  300 Secs ( 38.26%)``)."""
    oid = oid.lstrip(".")
    rec = recording(walk)
    for group in _CPU_WINDOWS:
        for column in group:
            if oid.startswith(column + "."):
                index = oid[len(column) + 1 :]
                values = [rec.get(f"{c}.{index}") for c in group]
                return [float(v) for v in values if v is not None and _is_number(v)]
    for column, windows in _CPU_INDEX_WINDOWS.items():
        if oid.startswith(column + "."):
            entity = oid[len(column) + 1 :].rsplit(".", 1)[0]
            values = [rec.get(f"{column}.{entity}.{w}") for w in windows]
            return [float(v) for v in values if v is not None and _is_number(v)]
    return [float(x) for x in _WINDOW_FIGURE.findall(rec.get(oid, ""))]


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _mempools(data: Mapping[str, Any], out: dict[str, list[Expected]]) -> None:
    for pool in _module(data, "mempools").get("mempools", []):
        used = pool.get("mempool_used")
        total = pool.get("mempool_total")
        if used is None and total and pool.get("mempool_perc") is not None:
            used = float(total) * float(pool["mempool_perc"]) / 100
        if used is None:
            continue
        used = float(used)
        name = str(pool.get("mempool_descr") or pool.get("mempool_index"))
        if _percent_only(pool):
            # LibreNMS had only the share (its total is 100 units): compare the share, 1 point.
            share = used / float(pool["mempool_total"])
            out["memory_pools"].append(
                Expected(name, _share_within(share), f"{100 * share:g} % used")
            )
            continue
        out["memory_pools"].append(
            Expected(name, _within(used, max(0.01 * used, 1.0)), f"{used:.0f} B used")
        )


def _share_within(share: float) -> Callable[[Observed], bool]:
    """Our used share within 1 point of LibreNMS's."""
    return lambda o: o.share is not None and abs(o.share - share) <= 0.01 + 1e-9


def _percent_only(pool: Mapping[str, Any]) -> bool:
    """A pool LibreNMS knows only as a share: no column for used or free, and a total of 100
    of its units (``mempool_precision`` bytes each: 100 MiB for a percentage it scaled by
    1048576 as if it were a size in MiB)."""
    precision = pool.get("mempool_precision") or 1
    return (
        pool.get("mempool_total") == 100 * precision
        and not pool.get("mempool_used_oid")
        and not pool.get("mempool_free_oid")
    )


_TOLERANCE = {"temperature": 0.5, "dbm": 0.1}
_SENSOR_CATEGORY = {"temperature": "temperatures", "dbm": "optics", "fanspeed": "fan_speeds"}


def _sensors(data: Mapping[str, Any], out: dict[str, list[Expected]]) -> None:
    module = _module(data, "sensors")
    states: dict[tuple[str, int], int] = {
        (s["state_name"], int(s["state_value"])): int(s["state_generic_value"])
        for s in module.get("state_indexes", [])
    }
    supplies: set[int] = set()
    for sensor in module.get("sensors", []):
        value = sensor.get("sensor_current")
        descr = str(sensor.get("sensor_descr") or sensor.get("sensor_index"))
        kind = sensor["sensor_class"]
        if kind == "state":
            category = state_category(str(sensor.get("state_name")), descr)
            if category is None:
                continue
            entity = sensor.get("entPhysicalIndex")
            if category == "psu_states" and entity:
                # the same supply from a second MIB (ENVMON beside ENTITY-FRU-CONTROL)
                if int(entity) in supplies:
                    descr = f"{descr} (entPhysicalIndex {entity} again)"
                supplies.add(int(entity))
            generic = (
                states.get((str(sensor.get("state_name")), int(value)))
                if value is not None
                else None
            )
            out[category].append(_state_expected(descr, generic))
            continue
        category = _SENSOR_CATEGORY.get(kind)
        if category is None or value is None:
            continue
        target = float(value)
        tolerance = _TOLERANCE.get(kind, abs(target) * 0.01)
        unit = {"temperature": "°C", "dbm": "dBm", "fanspeed": "rpm"}[kind]
        out[category].append(Expected(descr, _within(target, tolerance), f"{target:g} {unit}"))


def state_category(table: str, descr: str) -> str | None:
    """``fan_states``, ``psu_states`` or None for a LibreNMS state sensor."""
    if table in _FAN_STATE_TABLES:
        return "fan_states"
    if table in _PSU_STATE_TABLES:
        return "psu_states"
    if table in _MIXED_STATE_TABLES:
        if _FAN_NAME.search(descr):
            return "fan_states"
        if _PSU_NAME.search(descr):
            return "psu_states"
    return None


def _state_expected(descr: str, generic: int | None) -> Expected:
    """LibreNMS's generic state 0 is ok; 1 warning, 2 critical, 3 unknown are not."""
    if generic is None or generic == 3:
        return Expected(descr, lambda o: True, "unknown")
    up = 1.0 if generic == 0 else 0.0
    return Expected(descr, lambda o: o.value == up, "ok" if up else "not ok")


def _neighbours(data: Mapping[str, Any], out: dict[str, list[Expected]]) -> None:
    for link in _module(data, "discovery-protocols").get("links", []):
        protocol = str(link.get("protocol") or "").casefold()
        local = str(link.get("ifName") or link.get("ifDescr") or "")
        remote = str(link.get("remote_hostname") or "")
        out["neighbours"].append(
            Expected(
                f"{protocol} {local} {remote}".strip(),
                _label_is("protocol", protocol),
                f"{protocol} on {local}",
                prefers=_same_port(protocol, local),
            )
        )


def _same_port(protocol: str, local: str) -> Callable[[Observed], bool]:
    return lambda o: o.labels.get("protocol") == protocol and o.labels.get("local_ifname") == local


# -- what we export ----------------------------------------------------------------------------


def observations(samples: Mapping[SampleKey, float]) -> dict[str, list[Observed]]:
    """Our series per category."""
    by_metric: dict[str, list[Observed]] = defaultdict(list)
    for (name, labels), value in samples.items():
        by_metric[name].append(Observed(dict(labels), float(value)))
    free = {
        labels: float(value)
        for (name, labels), value in samples.items()
        if name == "chm_memory_free_bytes"
    }
    by_metric["chm_memory_used_bytes"] = [
        Observed(o.labels, o.value, _share(o.value, free.get(tuple(sorted(o.labels.items())))))
        for o in by_metric.get("chm_memory_used_bytes", [])
    ]
    by_metric["chm_memory_utilization_ratio"] = [
        Observed(o.labels, math.nan, o.value)
        for o in by_metric.get("chm_memory_utilization_ratio", [])
    ]
    return {
        category: [o for metric in metrics for o in by_metric.get(metric, [])]
        for category, metrics in OURS.items()
    }


def _share(used: float, free: float | None) -> float | None:
    return used / (used + free) if free is not None and used + free > 0 else None


# -- comparing ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Outcome:
    """One LibreNMS item and whether we agree."""

    walk: str
    category: str
    item: str
    agrees: bool
    theirs: str


def compare(walk: Walk, samples: Mapping[SampleKey, float]) -> list[Outcome]:
    """Every LibreNMS item of the walk with our verdict."""
    ours = observations(samples)
    out: list[Outcome] = []
    for category, items in expectations(walk).items():
        matched = match(items, ours[category])
        out.extend(
            Outcome(walk.community, category, e.item, i in matched, e.shown)
            for i, e in enumerate(items)
        )
    return out


def match(items: Sequence[Expected], ours: Sequence[Observed]) -> set[int]:
    """Indexes of the items a maximum matching pairs with one series of ours each (Kuhn's
    augmenting paths, preferred pairs tried first)."""
    edges: list[list[int]] = []
    for item in items:
        accepted = [j for j, o in enumerate(ours) if item.accepts(o)]
        if item.prefers is not None:
            accepted.sort(key=lambda j: not item.prefers(ours[j]))  # type: ignore[misc]
        edges.append(accepted)
    owner: dict[int, int] = {}

    def augment(i: int, seen: set[int]) -> bool:
        for j in edges[i]:
            if j in seen:
                continue
            seen.add(j)
            if j not in owner or augment(owner[j], seen):
                owner[j] = i
                return True
        return False

    for i in range(len(items)):
        augment(i, set())
    return set(owner.values())


# -- exceptions --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Waiver:
    """An exception: a reviewed case where LibreNMS is the one that differs."""

    walk: str
    category: str
    item: str
    reason: str


def load_exceptions(path: Path = EXCEPTIONS_FILE) -> list[Waiver]:
    """The reviewed exceptions: a list of ``{walk, category, item, reason}``; `walk` and `item`
    are shell patterns (``librenms/linux/*``, ``Switch 1: Core *``: one reason for many rows)."""
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or []
    out = [Waiver(**entry) for entry in raw]
    for exc in out:
        if exc.category not in CATEGORIES:
            raise ValueError(f"{exc}: unknown category")
        if not exc.reason.strip():
            raise ValueError(f"{exc}: an exception needs a reason")
    return out


def _covers(exc: Waiver, outcome: Outcome) -> bool:
    return (
        exc.category == outcome.category
        and fnmatch.fnmatchcase(outcome.walk, exc.walk)
        and fnmatch.fnmatchcase(outcome.item, exc.item)
    )


def apply_exceptions(
    outcomes: Iterable[Outcome],
    exceptions: Sequence[Waiver],
    read_categories: Mapping[str, set[str]],
) -> tuple[list[Outcome], list[str]]:
    """The outcomes left once the exceptions take out the disagreements they cover (an item we
    agree on always counts), and what is wrong with the exceptions themselves: one that covers
    no disagreement (stale), or one on a walk where we export nothing of the category (an
    exception may never cover a table we do not read)."""
    problems: list[str] = []
    covered: dict[int, set[str]] = defaultdict(set)
    kept: list[Outcome] = []
    for outcome in outcomes:
        covering = (
            []
            if outcome.agrees
            else [n for n, exc in enumerate(exceptions) if _covers(exc, outcome)]
        )
        for n in covering:
            covered[n].add(outcome.walk)
        if not covering:
            kept.append(outcome)
    for n, exc in enumerate(exceptions):
        if n not in covered:
            problems.append(f"exception {exc} covers no LibreNMS item (stale)")
        problems.extend(
            f"exception {exc}: we export nothing of {exc.category} on {walk}; an exception "
            "may not cover a table we do not read"
            for walk in sorted(covered[n])
            if exc.category not in read_categories.get(walk, set())
        )
    return kept, problems


# -- the table ---------------------------------------------------------------------------------


def tally(outcomes: Iterable[Outcome]) -> dict[str, tuple[int, int]]:
    """category → (agreements, expectations)."""
    counts: dict[str, list[int]] = {c: [0, 0] for c in CATEGORIES}
    for o in outcomes:
        counts[o.category][0] += o.agrees
        counts[o.category][1] += 1
    return {c: (a, n) for c, (a, n) in counts.items()}


def percent(agreements: int, expected: int) -> float:
    """Agreement in percent (100 when nothing is expected)."""
    return 100.0 * agreements / expected if expected else 100.0


def render_table(
    overall: Mapping[str, tuple[int, int]],
    by_family: Mapping[str, Mapping[str, tuple[int, int]]],
) -> str:
    """Markdown: one row per category, overall and per device family."""
    families = sorted(by_family)
    lines = [
        "| category | all walks | " + " | ".join(families) + " |",
        "|---|---|" + "---|" * len(families),
    ]
    for category in CATEGORIES:
        cells = [_cell(overall[category])]
        cells += [_cell(by_family[f][category]) for f in families]
        lines.append(f"| {category} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _cell(counts: tuple[int, int]) -> str:
    agreements, expected = counts
    if not expected:
        return "—"
    return f"{percent(agreements, expected):.0f} % ({agreements}/{expected})"
