"""The SNMP prober: choose profiles, walk what they need, turn it into metrics."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

from chm_exporter.config import AUTO_PROFILES, SnmpSettings
from chm_exporter.devicecache import DeviceState
from chm_exporter.errors import ProbeError
from chm_exporter.exposition import MetricSink
from chm_exporter.probers.context import ProbeContext
from chm_exporter.profiles import WalkPlan, WalkResult, evaluate_profiles, plan_walks
from chm_exporter.profiles.loader import expand_includes
from chm_exporter.profiles.model import Profile
from chm_exporter.profiles.select import choose_profiles
from chm_exporter.profiles.values import as_text
from chm_exporter.snmp.walker import Walker, WalkStats

DEFAULT_PORT = 161
SYS_DESCR = "1.3.6.1.2.1.1.1.0"
SYS_OBJECT_ID = "1.3.6.1.2.1.1.2.0"
UPTIME_METRIC = "chm_device_uptime_seconds"
COMPAT_PROFILES = {"snmp_exporter": {"if_mib": "if_mib_snmp_exporter"}}
# Time kept back from the deadline to turn what was walked into metrics.
EVALUATE_RESERVE_SECONDS = 0.15


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


def _profiles_and_plan(ctx: ProbeContext, names: tuple[str, ...]) -> tuple[list[Profile], WalkPlan]:
    cached = ctx.config.plans.get(names)
    if cached is None:
        profiles = expand_includes(names, ctx.config.profiles)
        cached = ctx.config.plans[names] = (profiles, plan_walks(profiles))
    return cached


async def _auto_profiles(ctx: ProbeContext, walker: Walker, device: DeviceState) -> tuple[str, ...]:
    """Profiles for module=auto: cached per device, else chosen from sysObjectID/sysDescr."""
    if device.profiles is None:
        found = WalkResult()
        await walker.run(WalkPlan(gets=[SYS_OBJECT_ID, SYS_DESCR]), found)
        sys_oid = as_text(found.column(SYS_OBJECT_ID).get("")) or ""
        sys_descr = as_text(found.column(SYS_DESCR).get("")) or ""
        device.profiles = choose_profiles(sys_oid, sys_descr, ctx.config.profiles)
        ctx.log.debug("snmp: sysObjectID %s: profiles %s", sys_oid, ",".join(device.profiles))
    return device.profiles


async def probe_snmp(ctx: ProbeContext, sink: MetricSink) -> bool:
    """Walk the target's SNMP agent for the module's profiles."""
    settings = ctx.module.snmp
    assert settings is not None  # the handler runs this prober only for snmp modules
    try:
        addr = await ctx.address("ip4")
    except ProbeError as exc:
        ctx.log.error("snmp: %s", exc)
        return False
    port = ctx.target.port or DEFAULT_PORT
    device = ctx.devices.get(addr, str(port), ctx.auth_name)
    walker = Walker(addr, port, ctx.auth, settings, ctx.log, device.bulk_limits, device.column_rows)
    result = WalkResult()
    ok = True
    started = time.perf_counter()
    profiles: list[Profile] = []
    try:
        async with asyncio.timeout_at(ctx.deadline - EVALUATE_RESERVE_SECONDS):
            auto = (
                await _auto_profiles(ctx, walker, device)
                if AUTO_PROFILES in settings.profiles
                else ()
            )
            names = profile_names(settings, ctx.module.compat, auto)
            profiles, plan = _profiles_and_plan(ctx, names)
            plan = _with_cached_lookups(plan, device, settings, result)
            ctx.log.debug(
                "snmp: %s:%d %s profiles %s: %d GETs, %d walks (%d lookups cached)",
                addr,
                port,
                _auth_text(ctx),
                ",".join(names),
                len(plan.gets),
                len(plan.walks),
                len(plan.lookups),
            )
            await walker.run(plan, result)
            _remember_lookups(plan, device, result)
    except TimeoutError:
        ok = False
        ctx.log.error(
            "snmp: deadline reached after %.3fs; %d columns read, metrics are partial",
            time.perf_counter() - started,
            len(result.columns),
        )
    except ProbeError as exc:
        ok = False
        ctx.log.error("snmp: %s", exc)
    walked = time.perf_counter()
    evaluate_profiles(profiles, result, sink)
    evaluated = time.perf_counter()
    if ok and not result.columns:
        ok = False
        ctx.log.error("snmp: the agent answered nothing the profiles ask for")
    _check_reboot(ctx, device, sink)
    _emit_stats(sink, walker.stats, walked - started, evaluated - walked)
    _count(ctx, walker.stats)
    ctx.log.debug(
        "snmp: %d varbinds in %d PDUs (%d retries, %d timeouts), walk %.3fs, evaluate %.3fs",
        walker.stats.varbinds,
        walker.stats.pdus_sent,
        walker.stats.retries,
        walker.stats.timeouts,
        walked - started,
        evaluated - walked,
    )
    return ok


def _with_cached_lookups(
    plan: WalkPlan, device: DeviceState, settings: SnmpSettings, result: WalkResult
) -> WalkPlan:
    """Skip walking label columns the device cache holds, and put them into the result.

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


def _remember_lookups(plan: WalkPlan, device: DeviceState, result: WalkResult) -> None:
    for column in plan.lookups:
        if column in result.columns:
            device.lookups[column] = result.columns[column]


def _check_reboot(ctx: ProbeContext, device: DeviceState, sink: MetricSink) -> None:
    family = sink.get(UPTIME_METRIC)
    uptime = family.samples.get(()) if family is not None else None
    if device.saw_uptime(uptime):
        ctx.log.info("snmp: uptime went back: device rebooted, cached profiles and names dropped")


def _auth_text(ctx: ProbeContext) -> str:
    auth = ctx.auth
    if auth.version == "3":
        level = getattr(auth, "security_level", "")
        return f"auth={ctx.auth_name} (v3 {level})"
    return f"auth={ctx.auth_name} (v{auth.version})"


def _emit_stats(sink: MetricSink, stats: WalkStats, walk_s: float, eval_s: float) -> None:
    help_phase = "Time the SNMP prober spent per phase (walk: on the network; evaluate: CPU)."
    sink.add("probe_snmp_duration_seconds", walk_s, {"phase": "walk"}, help_phase)
    sink.add("probe_snmp_duration_seconds", eval_s, {"phase": "evaluate"}, help_phase)
    sink.add("probe_snmp_pdus_sent", stats.pdus_sent, None, "SNMP request PDUs sent.")
    sink.add("probe_snmp_retries", stats.retries, None, "SNMP requests sent again after a timeout.")
    sink.add("probe_snmp_timeouts", stats.timeouts, None, "SNMP requests that got no answer.")
    sink.add("probe_snmp_varbinds", stats.varbinds, None, "Variable bindings received.")
    sink.add("probe_snmp_walks", stats.walks, None, "Columns walked (each asked once).")


def _count(ctx: ProbeContext, stats: WalkStats) -> None:
    m = ctx.metrics
    m.snmp_pdus.inc(stats.pdus_sent)
    m.snmp_retries.inc(stats.retries)
    m.snmp_timeouts.inc(stats.timeouts)
