"""module=auto: which profiles fit a device, from its sysObjectID (and sysDescr)."""

from __future__ import annotations

import re
from collections.abc import Mapping

from chm_exporter.profiles.model import Profile

FALLBACK_PROFILE = "standard"
FALLBACK_WITHOUT_STANDARD = ("system", "if_mib")


def fallback_profiles(profiles: Mapping[str, Profile]) -> tuple[str, ...]:
    """What a device of no known vendor gets: the standard MIBs."""
    return (FALLBACK_PROFILE,) if FALLBACK_PROFILE in profiles else FALLBACK_WITHOUT_STANDARD


def choose_profiles(
    sys_object_id: str, sys_descr: str, profiles: Mapping[str, Profile]
) -> tuple[str, ...]:
    """The vendor profile whose sysObjectID prefix matches longest (and whose sysDescr regex,
    if it has one, matches, and whose left-out prefixes do not), else the standard fallback.
    On a tie the more specific rule wins: one with a sysDescr condition over one without
    (IOS-XR over IOS on 1.3.6.1.4.1.9.1)."""
    oid = sys_object_id.strip().lstrip(".")
    best: tuple[int, bool, str] | None = None
    for name in sorted(profiles):
        for match in profiles[name].match:
            if match.sys_descr is not None and not re.search(match.sys_descr, sys_descr):
                continue
            if any(_under(oid, prefix) for prefix in match.not_sys_object_id):
                continue
            for prefix in match.sys_object_id:
                rank = (len(prefix), match.sys_descr is not None)
                if _under(oid, prefix) and (best is None or rank > best[:2]):
                    best = (*rank, name)
    return (best[2],) if best else fallback_profiles(profiles)


def _under(oid: str, prefix: str) -> bool:
    return oid == prefix or oid.startswith(prefix + ".")
