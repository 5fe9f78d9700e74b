"""From a module's profile names to the profiles and the walk plan (cached per config)."""

from __future__ import annotations

from collections.abc import Sequence

from chm_exporter.config import AUTO_PROFILES, LoadedConfig, SnmpSettings
from chm_exporter.profiles.loader import expand_includes
from chm_exporter.profiles.model import Profile
from chm_exporter.profiles.plan import plan_walks
from chm_exporter.profiles.tableplan import table_plan
from chm_exporter.walk import WalkPlan

COMPAT_PROFILES = {"snmp_exporter": {"if_mib": "if_mib_snmp_exporter"}}


def profile_names(
    settings: SnmpSettings, compat: Sequence[str], auto: Sequence[str]
) -> tuple[str, ...]:
    """The profile names a module asks for, `auto` replaced by `auto`'s choice, compat added."""
    names: list[str] = []
    for name in settings.profiles:
        names += auto if name == AUTO_PROFILES else [name]
    for mode in compat:
        names += [extra for base, extra in COMPAT_PROFILES[mode].items() if base in names]
    return tuple(dict.fromkeys(names))


def profiles_and_plan(
    config: LoadedConfig, names: tuple[str, ...]
) -> tuple[list[Profile], WalkPlan]:
    """The profiles `names` expand to (includes first) and their plan, computed once per
    config and set of names. Each table's evaluation plan is made here too, before the walk,
    so that the first probe does not spend its evaluation grace after a deadline on it."""
    cached = config.plans.get(names)
    if cached is None:
        profiles = expand_includes(names, config.profiles)
        for profile in profiles:
            for table in profile.tables:
                table_plan(profile.name, table)
        cached = config.plans[names] = (profiles, plan_walks(profiles))
    return cached
