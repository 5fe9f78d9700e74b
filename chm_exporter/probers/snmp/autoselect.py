"""module=auto: the device's profiles, chosen once from sysObjectID/sysDescr and cached."""

from __future__ import annotations

from collections.abc import Mapping

from chm_exporter.probelog import ProbeLog
from chm_exporter.probers.snmp.device import SnmpDeviceState
from chm_exporter.profiles.model import Profile
from chm_exporter.profiles.select import choose_profiles
from chm_exporter.profiles.values import as_text
from chm_exporter.snmp.walker import Walker
from chm_exporter.walk import WalkPlan, WalkResult

SYS_DESCR = "1.3.6.1.2.1.1.1.0"
SYS_OBJECT_ID = "1.3.6.1.2.1.1.2.0"


async def auto_profiles(
    walker: Walker, device: SnmpDeviceState, profiles: Mapping[str, Profile], log: ProbeLog
) -> tuple[str, ...]:
    """Profiles for module=auto: cached per device, else chosen from sysObjectID/sysDescr.

    Raises:
        SnmpProbeError: the agent did not answer the GET.
    """
    if device.profiles is None:
        found = WalkResult()
        await walker.run(WalkPlan(gets=[SYS_OBJECT_ID, SYS_DESCR]), found)
        sys_oid = as_text(found.column(SYS_OBJECT_ID).get("")) or ""
        sys_descr = as_text(found.column(SYS_DESCR).get("")) or ""
        device.profiles = choose_profiles(sys_oid, sys_descr, profiles)
        log.debug("snmp: sysObjectID %s: profiles %s", sys_oid, ",".join(device.profiles))
    return device.profiles
