"""The lookup cache: label-only columns (names, aliases) read from the device state instead of
walked, for `lookup_cache_seconds`.

The plan decides which columns are label-only (:attr:`WalkPlan.lookups`); columns that decide
which rows exist are never among them, so the cache only ever names rows, never makes them.
"""

from __future__ import annotations

import time

from chm_exporter.config import SnmpSettings
from chm_exporter.probers.snmp.device import SnmpDeviceState
from chm_exporter.walk import WalkPlan, WalkResult


def with_cached_lookups(
    plan: WalkPlan, device: SnmpDeviceState, settings: SnmpSettings, result: WalkResult
) -> WalkPlan:
    """Skip walking label columns the device state holds, and put them into `result`.

    The returned plan's `lookups` lists the label columns that will be walked this time."""
    fresh = (
        settings.lookup_cache_seconds > 0
        and time.monotonic() - device.lookups_at < settings.lookup_cache_seconds
    )
    cached = {c for c in plan.lookups if c in device.lookups} if fresh else set()
    if not fresh:
        device.lookups = {}
        device.lookups_at = time.monotonic()
    for column in cached:
        result.columns[column] = device.lookups[column]
    return WalkPlan(
        gets=plan.gets,
        walks=[c for c in plan.walks if c not in cached],
        lookups=plan.lookups - cached,
    )


def remember_lookups(plan: WalkPlan, device: SnmpDeviceState, result: WalkResult) -> None:
    """Keep the label columns this walk read completely, for the next scrapes."""
    for column in plan.lookups:
        if column in result.columns:
            device.lookups[column] = result.columns[column]
