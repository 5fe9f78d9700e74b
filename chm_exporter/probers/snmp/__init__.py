"""The SNMP prober: choose profiles, walk what they need (collect), turn it into metrics (emit).

The path of one request: :func:`credentials` (the `auth` it will use, checked when the request
is parsed), then :func:`collect`: resolve the target, the device's state
(:mod:`.device`), auto-selection (:mod:`.autoselect`), the plan (:mod:`.planning`), the
lookup cache (:mod:`.lookups`), the walk (:mod:`chm_exporter.snmp.walker`); then :func:`emit`:
the profiles engine evaluates what was walked, complete or not, and the walked uptime tells a
reboot.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from chm_exporter.allowlist import TargetRules
from chm_exporter.catalogue import declared
from chm_exporter.config import AUTO_PROFILES, CommunityAuth, LoadedConfig, SnmpSettings, UsmAuth
from chm_exporter.errors import RequestError
from chm_exporter.exposition import MetricSink
from chm_exporter.probers.context import ProbeContext, ProbeRequest
from chm_exporter.probers.snmp.autoselect import auto_profiles
from chm_exporter.probers.snmp.device import SnmpDeviceState, walked_uptime
from chm_exporter.probers.snmp.lookups import remember_lookups, with_cached_lookups
from chm_exporter.probers.snmp.planning import profile_names, profiles_and_plan
from chm_exporter.profiles.evaluate import Evaluation, evaluate_profiles
from chm_exporter.profiles.model import Profile
from chm_exporter.snmp.client import Connect
from chm_exporter.snmp.walker import Walker, WalkStats
from chm_exporter.walk import WalkResult

_PHASE = declared("probe_snmp_duration_seconds", ("phase",))
_PDUS = declared("probe_snmp_pdus_sent")
_RETRIES = declared("probe_snmp_retries")
_TIMEOUTS = declared("probe_snmp_timeouts")
_VARBINDS = declared("probe_snmp_varbinds")
_WALKS = declared("probe_snmp_walks")

NAME = "snmp"
DEFAULT_PORT = 161
# How long past the deadline evaluation may run (the answer is due by the deadline + 0.1 s:
# this leaves rendering and HTTP their share), and at least, when emit starts later (a collect
# that ignored its cancellation); the event loop's clock is time.monotonic(), as ctx.deadline's.
EVALUATE_GRACE_SECONDS = 0.03
EVALUATE_MIN_SECONDS = 0.01


@dataclass(slots=True)
class SnmpRaw:
    """What one SNMP probe collected; the walk fills `result` as replies arrive."""

    result: WalkResult = field(default_factory=WalkResult)
    profiles: list[Profile] = field(default_factory=list)
    stats: WalkStats = field(default_factory=WalkStats)
    device: SnmpDeviceState | None = None
    started: float = field(default_factory=time.perf_counter)
    walked: float | None = None
    """When the walk ended complete (None: it failed or was cut at the deadline)."""


def credentials(request: ProbeRequest, config: LoadedConfig) -> str:
    """The auth this request uses: its `auth=` parameter, else the config's first.

    Raises:
        RequestError: the auth is unknown or given twice (reason `auth`).
    """
    name = request.param("auth") or config.config.default_auth
    if name not in config.config.auths:
        raise RequestError(f"unknown auth {name!r}", reason="auth")
    return name


def target_rules(
    request: ProbeRequest, config: LoadedConfig, settings: SnmpSettings
) -> tuple[str, TargetRules]:
    """Where the request's auth may be sent (its `allowed_targets`)."""
    name = request.credentials[NAME]
    return f"auths.{name}", config.config.auths[name].allowed_targets


def merge(settings: Sequence[SnmpSettings]) -> SnmpSettings:
    """Several modules' SNMP settings as one: the first's, with every module's profiles."""
    profiles = list(dict.fromkeys(p for s in settings for p in s.profiles))
    return settings[0].model_copy(update={"profiles": profiles})


ConnectFactory = Callable[[str, int, CommunityAuth | UsmAuth, SnmpSettings], Connect]
"""Makes the walker's client factory for an agent (tests: a fake agent's)."""


async def collect(
    ctx: ProbeContext,
    settings: SnmpSettings,
    raw: SnmpRaw,
    connect: ConnectFactory | None = None,
) -> None:
    """Walk the target's agent for the module's profiles into `raw`.

    Raises:
        ProbeError: the name does not resolve, or the agent failed (the reason says how).
    """
    raw.started = time.perf_counter()
    auth_name = ctx.request.credentials[NAME]
    auth = ctx.config.config.auths[auth_name]
    addr = ctx.address()
    port = ctx.request.target.port or DEFAULT_PORT
    device = raw.device = ctx.devices.get(NAME, SnmpDeviceState, addr, str(port), auth_name)
    walker = Walker(
        addr,
        port,
        auth,
        settings,
        ctx.log,
        device.bulk_limits,
        device.column_rows,
        device.column_row_bytes,
        deadline=ctx.deadline,
        connect=connect(addr, port, auth, settings) if connect is not None else None,
        expected_pdus=device.pdus,
        pdu_seconds=device.pdu_seconds,
    )
    raw.stats = walker.stats
    auto: tuple[str, ...] = ()
    if AUTO_PROFILES in settings.profiles:
        auto = await auto_profiles(walker, device, ctx.config.profiles, ctx.log)
    names = profile_names(settings, ctx.request.module.compat, auto)
    raw.profiles, plan = profiles_and_plan(ctx.config, names)
    plan = with_cached_lookups(plan, device, settings, raw.result)
    ctx.log.debug(
        "snmp: %s:%d %s profiles %s: %d GETs, %d walks (%d lookups cached)",
        addr,
        port,
        _auth_text(auth_name, auth),
        ",".join(names),
        len(plan.gets),
        len(plan.walks),
        len(plan.lookups),
    )
    before = walker.stats.pdus_sent
    await walker.run(plan, raw.result)
    device.pdus = walker.stats.pdus_sent - before
    device.pdu_seconds = walker.pdu_seconds
    remember_lookups(plan, device, raw.result)
    raw.walked = time.perf_counter()


def emit(ctx: ProbeContext, settings: SnmpSettings, raw: SnmpRaw, sink: MetricSink) -> bool:
    """Evaluate the profiles over what was walked (complete or not); True when the walk ended
    complete and the agent answered something the profiles ask for."""
    walked = raw.walked if raw.walked is not None else time.perf_counter()
    # a walk cut at the deadline may hold a huge table: evaluate what fits in a short grace
    stop_at = max(ctx.deadline + EVALUATE_GRACE_SECONDS, time.monotonic() + EVALUATE_MIN_SECONDS)
    evaluation = Evaluation()
    complete = evaluate_profiles(raw.profiles, raw.result, sink, stop_at, evaluation)
    if evaluation.collapsed:
        ctx.log.warning(
            "snmp: %d samples replaced another row's (no label tells them apart)",
            evaluation.collapsed,
        )
    evaluated = time.perf_counter()
    for reason, count in sorted(evaluation.dropped.items()):
        ctx.log.warning("snmp: %d values left out (%s)", count, reason.replace("_", " "))
        ctx.metrics.samples_dropped.labels(reason).inc(count)
    ok = raw.walked is not None
    if not complete:
        ok = False
        ctx.log.error("snmp: evaluation cut at the deadline; metrics are partial")
    if not ok and raw.result.columns:
        ctx.log.warning(
            "snmp: walk incomplete after %.3fs; %d columns read, metrics are partial",
            walked - raw.started,
            len(raw.result.columns),
        )
    if ok and not raw.result.columns:
        ok = False
        ctx.log.error("snmp: the agent answered nothing the profiles ask for")
    if raw.device is not None and raw.device.saw_uptime(walked_uptime(raw.result)):
        ctx.log.info("snmp: uptime went back: device rebooted, cached profiles and names dropped")
    _emit_stats(sink, raw.stats, walked - raw.started, evaluated - walked)
    _count(ctx, raw.stats)
    ctx.log.debug(
        "snmp: %d varbinds in %d PDUs (%d retries, %d timeouts), walk %.3fs, evaluate %.3fs",
        raw.stats.varbinds,
        raw.stats.pdus_sent,
        raw.stats.retries,
        raw.stats.timeouts,
        walked - raw.started,
        evaluated - walked,
    )
    return ok


def _auth_text(name: str, auth: CommunityAuth | UsmAuth) -> str:
    if isinstance(auth, UsmAuth):
        return f"auth={name} (v3 {auth.security_level})"
    return f"auth={name} (v{auth.version})"


def _emit_stats(sink: MetricSink, stats: WalkStats, walk_s: float, eval_s: float) -> None:
    sink.add(_PHASE.name, walk_s, {"phase": "walk"}, _PHASE.help)
    sink.add(_PHASE.name, eval_s, {"phase": "evaluate"}, _PHASE.help)
    for metric, value in (
        (_PDUS, stats.pdus_sent),
        (_RETRIES, stats.retries),
        (_TIMEOUTS, stats.timeouts),
        (_VARBINDS, stats.varbinds),
        (_WALKS, stats.walks),
    ):
        sink.add(metric.name, value, None, metric.help)


def _count(ctx: ProbeContext, stats: WalkStats) -> None:
    m = ctx.metrics
    m.snmp_pdus.inc(stats.pdus_sent)
    m.snmp_retries.inc(stats.retries)
    m.snmp_timeouts.inc(stats.timeouts)
