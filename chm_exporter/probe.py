"""One /probe request: validate it, run the module's probers concurrently under one deadline,
and collect their metrics (partial results are the rule)."""

from __future__ import annotations

import asyncio
import time
import traceback
from collections.abc import Mapping
from dataclasses import dataclass

from multidict import MultiMapping

from chm_exporter.config import AUTO_MODULE, CommunityAuth, LoadedConfig, Module, UsmAuth
from chm_exporter.devicecache import DeviceCache
from chm_exporter.errors import RequestError
from chm_exporter.exposition import MetricSink
from chm_exporter.probelog import ProbeLog
from chm_exporter.probers import PROBERS, ProbeContext
from chm_exporter.selfmetrics import SelfMetrics
from chm_exporter.target import Target, parse_target

SCRAPE_TIMEOUT_HEADER = "X-Prometheus-Scrape-Timeout-Seconds"
_SUCCESS_HELP = "Whether the prober succeeded (1) or failed (0); the debug log says why."
_DURATION_HELP = "How long the prober took, in seconds."


@dataclass(frozen=True, slots=True)
class ProbeRequest:
    """A validated /probe request."""

    target: Target
    module_name: str
    module: Module
    auth_name: str
    auth: CommunityAuth | UsmAuth
    timeout: float
    debug: bool


@dataclass(frozen=True, slots=True)
class ProbeOutcome:
    """What a probe produced."""

    sink: MetricSink
    success: bool
    log: ProbeLog
    duration: float


def _single(query: MultiMapping[str], name: str) -> str | None:
    values = query.getall(name, [])
    if len(values) > 1:
        raise RequestError(f"parameter {name!r} is given {len(values)} times", reason=name)
    return values[0] if values else None


def parse_request(
    query: MultiMapping[str],
    headers: Mapping[str, str],
    loaded: LoadedConfig,
    timeout_offset: float,
) -> ProbeRequest:
    """Validate the query of a /probe request.

    Raises:
        RequestError: with a one-line reason (answered with HTTP 400).
    """
    config = loaded.config
    raw_target = _single(query, "target")
    if raw_target is None:
        raise RequestError("parameter 'target' is missing", reason="target")
    target = parse_target(raw_target)
    names = [n.strip() for v in query.getall("module", []) for n in v.split(",")] or [AUTO_MODULE]
    names = list(dict.fromkeys(n for n in names if n))
    modules = []
    for name in names or [AUTO_MODULE]:
        module = config.module(name)
        if module is None:
            known = ", ".join(config.module_names)
            raise RequestError(f"unknown module {name!r} (known: {known})", reason="module")
        modules.append(module)
    auth_name = _single(query, "auth") or config.default_auth
    auth = config.auths.get(auth_name)
    if auth is None:
        raise RequestError(f"unknown auth {auth_name!r}", reason="auth")
    module = merge_modules(modules)
    debug = (_single(query, "debug") or "false").lower() in ("true", "1", "yes")
    return ProbeRequest(
        target=target,
        module_name=",".join(names),
        module=module,
        auth_name=auth_name,
        auth=auth,
        timeout=probe_timeout(headers.get(SCRAPE_TIMEOUT_HEADER), module.timeout, timeout_offset),
        debug=debug,
    )


def merge_modules(modules: list[Module]) -> Module:
    """Several modules as one: each prober's settings from the first module that has it,
    SNMP profiles from all of them, the shortest timeout."""
    if len(modules) == 1:
        return modules[0]
    snmp = next((m.snmp for m in modules if m.snmp), None)
    if snmp is not None:
        profiles = [p for m in modules if m.snmp for p in m.snmp.profiles]
        snmp = snmp.model_copy(update={"profiles": list(dict.fromkeys(profiles))})
    return Module(
        timeout=min(m.timeout for m in modules),
        compat=list(dict.fromkeys(c for m in modules for c in m.compat)),
        snmp=snmp,
        icmp=next((m.icmp for m in modules if m.icmp), None),
    )


def probe_timeout(header: str | None, module_timeout: float, offset: float) -> float:
    """Seconds the probe may take: Prometheus' scrape timeout minus the offset, capped by the
    module's timeout. An absent or unreadable header leaves the module's timeout."""
    if header is None:
        return module_timeout
    try:
        scrape = float(header)
    except ValueError:
        return module_timeout
    if not scrape > 0:
        return module_timeout
    budget = scrape - offset if scrape > offset else scrape * 0.9
    return min(module_timeout, budget)


async def run_probe(
    request: ProbeRequest,
    loaded: LoadedConfig,
    devices: DeviceCache,
    metrics: SelfMetrics,
) -> ProbeOutcome:
    """Run every prober of the request's module concurrently; never raises for a device."""
    loop = asyncio.get_running_loop()
    log = ProbeLog(str(request.target), request.module_name)
    started = time.perf_counter()
    deadline = loop.time() + request.timeout
    log.info(
        "probe %s module=%s timeout=%.3fs", request.target, request.module_name, request.timeout
    )
    ctx = ProbeContext(
        target=request.target,
        module_name=request.module_name,
        module=request.module,
        auth_name=request.auth_name,
        auth=request.auth,
        config=loaded,
        log=log,
        deadline=deadline,
        devices=devices,
        metrics=metrics,
    )
    names = [n for n in PROBERS if getattr(request.module, n, None) is not None]
    sinks = {name: MetricSink() for name in names}
    tasks = {name: asyncio.create_task(_run_one(name, ctx, sinks[name], metrics)) for name in names}
    await asyncio.wait(tasks.values(), timeout=max(0.0, deadline - loop.time()))
    sink = MetricSink()
    success = True
    for name, task in tasks.items():
        ok, seconds = False, request.timeout
        if task.done():
            ok, seconds = task.result()
        else:
            task.cancel()
            log.error("%s: deadline of %.3fs reached, prober stopped", name, request.timeout)
            metrics.probes.labels(request.module_name, name, "failure").inc()
        sink.add("probe_success", int(ok), {"prober": name}, _SUCCESS_HELP)
        sink.add("probe_duration_seconds", seconds, {"prober": name}, _DURATION_HELP)
        sink.merge(sinks[name])
        success = success and ok
    await asyncio.gather(*tasks.values(), return_exceptions=True)
    duration = time.perf_counter() - started
    log.info("probe %s in %.3fs", "succeeded" if success else "failed", duration)
    return ProbeOutcome(sink=sink, success=success, log=log, duration=duration)


async def _run_one(
    name: str, ctx: ProbeContext, sink: MetricSink, metrics: SelfMetrics
) -> tuple[bool, float]:
    started = time.perf_counter()
    try:
        ok = await PROBERS[name](ctx, sink)
    except Exception:  # a bug: the probe still answers, the log keeps the traceback
        ctx.log.error("%s: internal error (a bug):\n%s", name, traceback.format_exc())
        ok = False
    seconds = time.perf_counter() - started
    metrics.probes.labels(ctx.module_name, name, "success" if ok else "failure").inc()
    metrics.probe_duration.labels(name).observe(seconds)
    return ok, seconds
