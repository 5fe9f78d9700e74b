"""What a found device is, and who its neighbours are.

Two reads per device, through the :class:`~.reader.SnmpReader` seam:

1. sysObjectID, sysName and sysDescr, with each of the job's auths in turn from the one the
   sweep found; the first auth that answers is the device's auth.
2. The ``device_info`` of the profiles ``module=auto`` chooses for that sysObjectID (the same
   :func:`~chm_exporter.profiles.select.choose_profiles`), which gives vendor, platform and
   model, and, for the crawl, the ``lldp`` and ``cdp`` profiles' tables: their
   ``chm_neighbor_info`` samples carry each neighbour's ports and management address.

Vendor knowledge stays in the profiles: nothing here names an OID beyond the system group.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from chm_exporter.config import CommunityAuth, UsmAuth
from chm_exporter.discovery.reader import Budget, SnmpReader
from chm_exporter.errors import SnmpProbeError
from chm_exporter.exposition import MetricSink
from chm_exporter.probelog import ProbeLog
from chm_exporter.profiles import WalkPlan, WalkResult
from chm_exporter.profiles.evaluate import evaluate_profiles
from chm_exporter.profiles.loader import expand_includes
from chm_exporter.profiles.model import DEVICE_INFO_METRIC, Profile
from chm_exporter.profiles.plan import plan_walks
from chm_exporter.profiles.select import choose_profiles
from chm_exporter.profiles.values import as_text

SYS_DESCR = "1.3.6.1.2.1.1.1.0"
SYS_OBJECT_ID = "1.3.6.1.2.1.1.2.0"
SYS_NAME = "1.3.6.1.2.1.1.5.0"
NEIGHBOR_METRIC = "chm_neighbor_info"
NEIGHBOR_PROFILES = {"lldp": "lldp", "cdp": "cdp"}


@dataclass(frozen=True, slots=True)
class Identity:
    """What a device says it is, and the profiles module=auto picks for it."""

    sys_object_id: str
    sys_name: str
    sys_descr: str
    vendor: str = ""
    platform: str = ""
    model: str = ""
    os_version: str = ""
    serial: str = ""
    profiles: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Neighbor:
    """One row of a device's LLDP or CDP neighbour table."""

    protocol: str
    local_port: str
    remote_name: str
    remote_port: str
    remote_chassis_id: str
    remote_platform: str
    remote_address: str


@dataclass(frozen=True, slots=True)
class Examined:
    """A device that answered: with which auth, what it is, whom it sees."""

    auth_name: str
    identity: Identity
    neighbors: tuple[Neighbor, ...]
    failure: str = ""
    """why device_info and neighbours are missing, when they are"""


@dataclass(frozen=True, slots=True)
class ReadSettings:
    """How discovery talks to one device."""

    port: int
    timeout: float
    retries: int
    protocols: tuple[str, ...]
    """neighbour protocols to read (``lldp``, ``cdp``); empty: no crawl"""


class NotIdentifiedError(Exception):
    """No auth got an answer; the message says what each one got."""


async def examine(
    reader: SnmpReader,
    address: str,
    auths: Sequence[tuple[str, CommunityAuth | UsmAuth]],
    profiles: Mapping[str, Profile],
    settings: ReadSettings,
    log: ProbeLog,
) -> Examined:
    """Identify the device at `address` and read its neighbours.

    `auths` are tried in order. A device whose second read fails is still identified (by its
    system group), with no vendor fields and no neighbours.

    Raises:
        NotIdentifiedError: no auth got an answer.
    """
    auth_name, auth, system = await _first_answer(reader, address, auths, settings, log)
    sys_oid = as_text(system.column(SYS_OBJECT_ID).get("")) or ""
    sys_descr = as_text(system.column(SYS_DESCR).get("")) or ""
    sys_name = as_text(system.column(SYS_NAME).get("")) or ""
    chosen = choose_profiles(sys_oid, sys_descr, profiles)
    identity = Identity(sys_oid, sys_name, sys_descr, profiles=chosen)
    wanted = _identity_profiles(chosen, profiles) + [
        profiles[name] for p in settings.protocols if (name := NEIGHBOR_PROFILES[p]) in profiles
    ]
    try:
        result = await reader.read(
            address, settings.port, auth, plan_walks(wanted), _budget(settings), log
        )
    except (SnmpProbeError, TimeoutError) as exc:
        return Examined(auth_name, identity, (), failure=str(exc) or "deadline")
    sink = MetricSink()
    evaluate_profiles(wanted, result, sink)
    return Examined(
        auth_name, _with_device_info(identity, sink), _neighbors(sink, settings.protocols)
    )


def _budget(settings: ReadSettings) -> Budget:
    """Timeout, retries and a deadline that lets every retry of a few PDUs happen."""
    deadline = asyncio.get_running_loop().time() + 4 * settings.timeout * (settings.retries + 1)
    return Budget(settings.timeout, settings.retries, deadline)


async def _first_answer(
    reader: SnmpReader,
    address: str,
    auths: Sequence[tuple[str, CommunityAuth | UsmAuth]],
    settings: ReadSettings,
    log: ProbeLog,
) -> tuple[str, CommunityAuth | UsmAuth, WalkResult]:
    plan = WalkPlan(gets=[SYS_OBJECT_ID, SYS_NAME, SYS_DESCR])
    failures = []
    for name, auth in auths:
        try:
            result = await reader.read(address, settings.port, auth, plan, _budget(settings), log)
        except (SnmpProbeError, TimeoutError) as exc:
            failures.append(f"{name}: {exc or 'deadline'}")
            continue
        if result.column(SYS_OBJECT_ID):
            return name, auth, result
        failures.append(f"{name}: no sysObjectID")
    raise NotIdentifiedError("; ".join(failures) or "no auth to try")


def _identity_profiles(chosen: tuple[str, ...], profiles: Mapping[str, Profile]) -> list[Profile]:
    """The chosen profiles (with their includes) reduced to their device_info."""
    return [
        p.model_copy(update={"tables": []})
        for p in expand_includes(chosen, dict(profiles))
        if p.device_info
    ]


def _with_device_info(identity: Identity, sink: MetricSink) -> Identity:
    family = sink.get(DEVICE_INFO_METRIC)
    if family is None or not family.samples:
        return identity
    labels = dict(zip(family.label_names, next(iter(family.samples)), strict=True))
    return Identity(
        sys_object_id=identity.sys_object_id,
        sys_name=identity.sys_name or labels.get("sys_name", ""),
        sys_descr=identity.sys_descr,
        vendor=labels.get("vendor", ""),
        platform=labels.get("platform", ""),
        model=labels.get("model", ""),
        os_version=labels.get("os_version", ""),
        serial=labels.get("serial", ""),
        profiles=identity.profiles,
    )


def _neighbors(sink: MetricSink, protocols: tuple[str, ...]) -> tuple[Neighbor, ...]:
    family = sink.get(NEIGHBOR_METRIC)
    if family is None:
        return ()
    found = []
    for values in family.samples:
        row = dict(zip(family.label_names, values, strict=True))
        if row.get("protocol") not in protocols:
            continue
        found.append(
            Neighbor(
                protocol=row.get("protocol", ""),
                local_port=row.get("local_ifname", ""),
                remote_name=row.get("remote_sys_name", ""),
                remote_port=row.get("remote_port", ""),
                remote_chassis_id=row.get("remote_chassis_id", ""),
                remote_platform=row.get("remote_platform", ""),
                remote_address=row.get("remote_address", ""),
            )
        )
    return tuple(sorted(set(found), key=lambda n: (n.protocol, n.local_port, n.remote_name)))
