"""One /probe request: validate it, run the module's probers under one deadline, and gather
their metrics (partial results are the rule).

This module is the deadline's only owner: each prober's `collect` runs under
``asyncio.timeout_at(deadline)`` in :func:`_collect`, and the answer is built by the deadline
plus :data:`ANSWER_GRACE_SECONDS` whatever a collect does: one that does not stop when cancelled
is left to end in the background (kept referenced, logged when it ends) while its partial raw
data is emitted.
"""

from __future__ import annotations

import asyncio
import logging
import time
import traceback
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from multidict import MultiMapping

from chm_exporter.allowlist import TargetRules
from chm_exporter.catalogue import declared
from chm_exporter.config import AUTO_MODULE, LoadedConfig, Module
from chm_exporter.devicecache import DeviceCache
from chm_exporter.errors import ProbeError, RequestError
from chm_exporter.exposition import MetricSink
from chm_exporter.probelog import ProbeLog
from chm_exporter.probers import PROBERS, ProbeContext, Prober, ProbeRequest
from chm_exporter.probers import settings_of as prober_settings
from chm_exporter.probers.context import single_param
from chm_exporter.resolver import Resolution, Resolver
from chm_exporter.selfmetrics import SelfMetrics
from chm_exporter.ssh.sessions import SessionPool
from chm_exporter.target import Target, parse_target

SCRAPE_TIMEOUT_HEADER = "X-Prometheus-Scrape-Timeout-Seconds"
# How long past the deadline the handler waits for collects to notice their cancellation.
ANSWER_GRACE_SECONDS = 0.05
_SUCCESS = declared("probe_success", ("prober",))
_DURATION = declared("probe_duration_seconds", ("prober",))
_log = logging.getLogger("chm_exporter.probe")
# Collects that did not stop at their deadline: kept referenced until they end.
_stragglers: set[asyncio.Task[None]] = set()


@dataclass(frozen=True, slots=True)
class ProbeOutcome:
    """What a probe produced."""

    sink: MetricSink
    success: bool
    log: ProbeLog
    duration: float


def parse_request(
    query: MultiMapping[str],
    headers: Mapping[str, str],
    loaded: LoadedConfig,
    timeout_offset: float,
) -> ProbeRequest:
    """Validate the query of a /probe request (each prober checks its own parameters).

    Raises:
        RequestError: with a one-line reason (answered with HTTP 400).
    """
    config = loaded.config
    params = {name: tuple(query.getall(name)) for name in query}
    raw_target = single_param(params, "target")
    if raw_target is None:
        raise RequestError("parameter 'target' is missing", reason="target")
    target = parse_target(raw_target)
    names = [n.strip() for v in query.getall("module", []) for n in v.split(",")]
    names = list(dict.fromkeys(n for n in names if n)) or [AUTO_MODULE]
    modules = []
    for name in names:
        module = config.module(name)
        if module is None:
            known = ", ".join(config.module_names)
            raise RequestError(f"unknown module {name!r} (known: {known})", reason="module")
        modules.append(module)
    module = merge_modules(modules)
    debug = (single_param(params, "debug") or "false").lower() in ("true", "1", "yes")
    probe = ProbeRequest(
        target=target,
        module_name=",".join(sorted(names)),  # one label value per set: no series per order
        module=module,
        timeout=probe_timeout(headers.get(SCRAPE_TIMEOUT_HEADER), module.timeout, timeout_offset),
        debug=debug,
        params=params,
    )
    credentials = {}
    for name, prober in PROBERS.items():
        if prober_settings(module, name) is not None:
            used = prober.credentials(probe, loaded)
            if used is not None:
                credentials[name] = used
    return replace(probe, credentials=credentials)


def merge_modules(modules: list[Module]) -> Module:
    """Several modules as one: each prober's settings merged by the prober (by default the
    first module's), the shortest timeout."""
    if len(modules) == 1:
        return modules[0]
    probers = {}
    for name, prober in PROBERS.items():
        found = [s for s in (prober_settings(m, name) for m in modules) if s is not None]
        probers[name] = prober.merge(found) if found else None
    return Module(
        timeout=min(m.timeout for m in modules),
        compat=list(dict.fromkeys(c for m in modules for c in m.compat)),
        **probers,
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


@dataclass(slots=True)
class _Run:
    """One prober's part of a probe."""

    name: str
    prober: Prober[Any, Any]
    settings: Any
    raw: Any
    failure: str | None = None
    started: float = field(default_factory=time.perf_counter)


async def run_probe(
    request: ProbeRequest,
    loaded: LoadedConfig,
    devices: DeviceCache,
    metrics: SelfMetrics,
    ssh: SessionPool,
    resolver: Resolver | None = None,
) -> ProbeOutcome:
    """Resolve the target once, check where it may be sent, then run every prober of the
    request's module concurrently; never raises for a device.

    Raises:
        RequestError: the target (or the address its name resolves to) is not allowed for
            the config or for a prober's auth (reason `forbidden`, a 400).
    """
    loop = asyncio.get_running_loop()
    log = ProbeLog(str(request.target), request.module_name)
    started = time.perf_counter()
    deadline = loop.time() + request.timeout
    runs = [
        _Run(name, prober, settings, prober.new_raw())
        for name, prober in PROBERS.items()
        if (settings := prober_settings(request.module, name)) is not None
    ]
    rules = [(run, _rules_of(run, request, loaded)) for run in runs]
    check_name(request.target, rules)
    own_resolver = resolver is None
    resolver = resolver or Resolver()
    try:
        resolution = await resolver.resolve(request.target, deadline)
    finally:
        if own_resolver:
            resolver.close()
    contexts = {
        run.name: check_targets(request.target, resolution, run, where) for run, where in rules
    }
    log.info(
        "probe %s module=%s timeout=%.3fs", request.target, request.module_name, request.timeout
    )
    if not request.target.is_literal:
        log.debug(
            "%s: %s", request.target.host, resolution.error or ", ".join(resolution.addresses)
        )
    ctx = ProbeContext(request, loaded, log, deadline, devices, metrics, ssh)
    tasks = {
        asyncio.create_task(_collect(run, replace(ctx, **contexts[run.name]))): run for run in runs
    }
    try:
        await asyncio.wait(tasks, timeout=max(0.0, deadline - loop.time()) + ANSWER_GRACE_SECONDS)
    except asyncio.CancelledError:
        for task in tasks:
            task.cancel()
        raise
    for task, run in tasks.items():
        if not task.done():  # it swallowed its cancellation: answer without it
            task.cancel()
            run.failure = f"deadline reached after {request.timeout:.3f}s; the prober did not stop"
            _stragglers.add(task)
            task.add_done_callback(_straggler_done)
    sink = MetricSink()
    success = True
    for run in runs:
        ok, own = _emit(run, ctx)
        seconds = time.perf_counter() - run.started
        metrics.probe_done(request.module_name, run.name, ok, seconds)
        sink.add(_SUCCESS.name, int(ok), {"prober": run.name}, _SUCCESS.help)
        sink.add(_DURATION.name, seconds, {"prober": run.name}, _DURATION.help)
        sink.take(own)
        success = success and ok
    duration = time.perf_counter() - started
    log.info("probe %s in %.3fs", "succeeded" if success else "failed", duration)
    return ProbeOutcome(sink=sink, success=success, log=log, duration=duration)


_Rules = list[tuple[str, TargetRules]]


def _rules_of(run: _Run, request: ProbeRequest, loaded: LoadedConfig) -> _Rules:
    """The allow-lists a prober's address must pass: the config's, and its auth's."""
    found = [("allowed_targets", loaded.config.allowed_targets)]
    own = run.prober.target_rules(request, loaded, run.settings)
    if own is not None:
        found.append((f"{own[0]}.allowed_targets", own[1]))
    return [(where, rules) for where, rules in found if rules.restricts]


def check_name(target: Target, rules: list[tuple[_Run, _Rules]]) -> None:
    """Refuse a target whose name no pattern allows, before it is looked up.

    Raises:
        RequestError: reason `forbidden`.
    """
    name = None if target.is_literal else target.host.lower()
    for _run, found in rules:
        for where, rule in found:
            if not rule.allows_name(name):
                raise RequestError(f"target {target} is not allowed by {where}", "forbidden")


def check_targets(
    target: Target, resolution: Resolution, run: _Run, rules: _Rules
) -> dict[str, Any]:
    """The addresses `run`'s prober may use: the resolved ones every allow-list accepts.

    This is where the allow-lists hold for every prober: a prober gets its address only from
    ``ctx.address()``, which answers from the addresses returned here, resolved once for the
    whole probe (a second lookup could answer differently).

    Returns:
        The prober's own fields of its :class:`ProbeContext`.

    Raises:
        RequestError: the target resolved, but to no address the prober may use (reason
            `forbidden`).
    """
    preferred, fallback = run.prober.address_family(run.settings)
    name = None if target.is_literal else target.host.lower()
    allowed = resolution
    for where, rule in rules:
        before = allowed
        allowed = allowed.only(lambda a, r=rule: r.allows(name, a))  # type: ignore[misc]
        if before.addresses and not allowed.addresses:
            shown = ", ".join(before.addresses[:4])
            raise RequestError(f"target {target} ({shown}) is not allowed by {where}", "forbidden")
    return {"resolution": allowed, "preferred": preferred, "fallback": fallback}


async def _collect(run: _Run, ctx: ProbeContext) -> None:
    """Run one prober's collect under the probe's deadline; record why it failed."""
    try:
        async with asyncio.timeout_at(ctx.deadline):
            await run.prober.collect(ctx, run.settings, run.raw)
    except TimeoutError:
        run.failure = f"deadline reached after {ctx.request.timeout:.3f}s"
    except ProbeError as exc:
        run.failure = str(exc)
    except (asyncio.CancelledError, KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:  # a bug (or a library panic): the probe still answers
        run.failure = internal_error(exc)
        ctx.log.debug("%s: traceback:\n%s", run.name, traceback.format_exc())


def internal_error(exc: BaseException) -> str:
    """The reason for an exception no prober expected: a library panic (pyo3's
    `PanicException`, a BaseException) is named as such; anything else is a bug."""
    if type(exc).__name__ == "PanicException":
        return f"SNMP library panic on a malformed reply: {exc}"
    return f"internal error (a bug): {type(exc).__name__}: {exc}"


def _emit(run: _Run, ctx: ProbeContext) -> tuple[bool, MetricSink]:
    """A prober's metrics from its raw data, and whether it succeeded (the reason logged)."""
    if run.failure is not None:
        ctx.log.error("%s: %s", run.name, run.failure)
    own = MetricSink()
    try:
        ok = run.prober.emit(ctx, run.settings, run.raw, own)
    except Exception as exc:  # a bug in emit: this prober's metrics are dropped, not the answer
        ctx.log.error("%s: %s\n%s", run.name, internal_error(exc), traceback.format_exc())
        return False, MetricSink()
    return ok and run.failure is None, own


def _straggler_done(task: asyncio.Task[None]) -> None:
    _stragglers.discard(task)
    if task.cancelled():
        return
    exc = task.exception()
    if exc is not None:
        _log.error("a prober that missed its deadline ended with %r", exc)
    else:
        _log.warning("a prober that missed its deadline has ended")
