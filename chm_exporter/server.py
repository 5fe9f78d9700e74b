"""The aiohttp application: routes, state, reload, landing page."""

from __future__ import annotations

import asyncio
import html
import logging
import os
import signal
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

import yaml
from aiohttp import web
from aiohttp.typedefs import Middleware
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from chm_exporter.config import LoadedConfig
from chm_exporter.configproc import DEFAULT_TIMEOUT, load_config_isolated
from chm_exporter.devicecache import DeviceCache
from chm_exporter.discovery import routes as discovery_routes
from chm_exporter.errors import ConfigError, RequestError
from chm_exporter.icmp.echo import close_echo_engine
from chm_exporter.lifecycle import reload_refusal
from chm_exporter.probe import parse_request, run_probe
from chm_exporter.recent import ProbeRecord, RecentProbes
from chm_exporter.resolver import Resolver
from chm_exporter.rlimits import MAX_PROBES_DEFAULT
from chm_exporter.selfmetrics import SelfMetrics
from chm_exporter.ssh.sessions import DEFAULT_MAX_SESSIONS, SessionPool
from chm_exporter.version import __version__
from chm_exporter.webconfig import BasicAuth, WebConfig
from chm_exporter.workers import WorkerRole, notify_supervisor

EXPOSITION_CONTENT_TYPE = "text/plain"
_log = logging.getLogger("chm_exporter")


@dataclass
class ExporterState:
    """Everything the handlers share; one per application."""

    loaded: LoadedConfig
    timeout_offset: float
    version: str
    metrics: SelfMetrics
    ssh: SessionPool
    devices: DeviceCache = field(default_factory=DeviceCache)
    recent: RecentProbes = field(default_factory=RecentProbes)
    reload_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    started: float = field(default_factory=time.time)
    enable_lifecycle: bool = False
    reload_timeout: float = DEFAULT_TIMEOUT
    resolver: Resolver = field(default_factory=Resolver)
    max_in_flight: int = MAX_PROBES_DEFAULT
    running: int = 0
    worker: WorkerRole = field(default_factory=WorkerRole)
    discovery: discovery_routes.Discovery = field(init=False)

    def __post_init__(self) -> None:
        self.discovery = discovery_routes.make_discovery(
            lambda: self.loaded,
            self.metrics,
            Path(self.worker.directory) if self.worker.directory else None,
            runs_jobs=self.worker.runs_discovery,
        )

    async def reload(self) -> None:
        """Load the config file again; a refused config keeps the old one serving.

        Raises:
            ConfigError: the new config is invalid (the old one stays).
        """
        if self.loaded.path is None:
            raise ConfigError("this exporter was started without a config file")
        async with self.reload_lock:
            try:
                loaded = await load_config_isolated(self.loaded.path, self.reload_timeout)
            except ConfigError:
                self.metrics.reload_ok.set(0)
                raise
            self.loaded = loaded
            self.discovery.apply()
            self.metrics.reload_ok.set(1)
            self.metrics.reload_time.set(time.time())
            _log.info("configuration reloaded from %s", loaded.path)


STATE = web.AppKey("state", ExporterState)


def create_app(
    loaded: LoadedConfig,
    timeout_offset: float = 0.5,
    version: str | None = None,
    ssh_max_sessions: int = DEFAULT_MAX_SESSIONS,
    *,
    enable_lifecycle: bool = False,
    web_config: WebConfig | None = None,
    max_in_flight: int = MAX_PROBES_DEFAULT,
    resolver: Resolver | None = None,
    worker: WorkerRole | None = None,
) -> web.Application:
    """Build the exporter's application around a loaded config.

    Args:
        loaded: the config to serve.
        timeout_offset: seconds kept back from each scrape's timeout.
        version: shown on the landing page and in chm_exporter_build_info.
        ssh_max_sessions: SSH sessions kept open at most.
        enable_lifecycle: allow POST /-/reload (as Prometheus' --web.enable-lifecycle).
        web_config: basic-auth users (TLS is the listening site's, see cli.py).
        max_in_flight: probes answered at once; more are refused with 503 and Retry-After.
        resolver: looks names up (default: its own threads, 2 s timeout).
        worker: which of the ``--web.workers`` this process is (default: the only one); only
            one runs discovery.
    """
    metrics = SelfMetrics(version or __version__)
    state_dir = loaded.path.parent if loaded.path is not None else None
    state = ExporterState(
        loaded,
        timeout_offset,
        version or __version__,
        metrics,
        SessionPool(
            metrics.ssh,
            ssh_max_sessions,
            state_dir,
            Path(worker.directory) if worker is not None and worker.directory else None,
        ),
        enable_lifecycle=enable_lifecycle,
        resolver=resolver or Resolver(),
        max_in_flight=max_in_flight,
        worker=worker or WorkerRole(),
    )
    state.metrics.dns_busy.set_function(lambda: state.resolver.busy)
    state.metrics.reload_ok.set(1)
    state.metrics.reload_time.set(time.time())
    middlewares: list[Middleware] = [_errors_middleware]
    if web_config is not None and web_config.basic_auth_users:
        middlewares.insert(0, BasicAuth(web_config.basic_auth_users).middleware())
    app = web.Application(middlewares=middlewares)
    app[STATE] = state
    app.on_cleanup.append(_close_sessions)
    app.router.add_get("/", landing)
    app.router.add_get("/probe", probe)
    app.router.add_get("/metrics", self_metrics)
    app.router.add_get("/-/healthy", healthy)
    app.router.add_get("/-/ready", healthy)
    app.router.add_post("/-/reload", reload)
    app.router.add_put("/-/reload", reload)
    app.router.add_get("/config", show_config)
    app.router.add_get("/logs", show_log)
    discovery_routes.add_routes(app, lambda a: a[STATE].discovery)
    return app


async def _close_sessions(app: web.Application) -> None:
    app[STATE].resolver.close()
    close_echo_engine()
    await app[STATE].ssh.close()


@web.middleware
async def _errors_middleware(
    request: web.Request,
    handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
) -> web.StreamResponse:
    try:
        return await handler(request)
    except RequestError as exc:
        request.app[STATE].metrics.invalid_requests.labels(exc.reason).inc()
        return web.Response(status=400, text=f"{exc}\n")


async def probe(request: web.Request) -> web.Response:
    """GET /probe?target=&module=&auth=&debug=: probe one device, answer its metrics."""
    state = request.app[STATE]
    if state.running >= state.max_in_flight:
        return _overloaded(state)
    loaded = state.loaded
    req = parse_request(request.query, request.headers, loaded, state.timeout_offset)
    state.metrics.in_flight.inc()
    state.running += 1
    try:
        outcome = await run_probe(
            req, loaded, state.devices, state.metrics, state.ssh, state.resolver
        )
    finally:
        state.running -= 1
        state.metrics.in_flight.dec()
    state.recent.add(
        str(req.target),
        req.module_name,
        outcome.success,
        outcome.duration,
        outcome.log,
        ",".join(dict.fromkeys(req.credentials.values())),
    )
    body = outcome.sink.render()
    if req.debug:
        module_yaml = yaml.safe_dump(req.module.model_dump(mode="json"), sort_keys=False)
        body = (
            f"Logs for the probe:\n{outcome.log.text()}\n"
            f"Metrics that would have been returned:\n{body}\n"
            f"Module configuration:\n{module_yaml}"
        )
    # Not compressed, though Prometheus sends Accept-Encoding: gzip: CPU per scrape is what
    # limits devices per core, and gzip costs more of it than the bytes it saves (a 96 kB
    # answer: +0.45 ms at level 1, +1.8 ms with aiohttp's enable_compression, against 0.28 ms
    # for the whole identity request; docs/benchmarks.md, "Evaluation, rendering and the
    # answer").
    return web.Response(text=body, content_type=EXPOSITION_CONTENT_TYPE, charset="utf-8")


def _overloaded(state: ExporterState) -> web.Response:
    """503 with Retry-After, counted; the connection is closed so its descriptor is free."""
    state.metrics.rejected.inc()
    response = web.Response(
        status=503,
        text=f"{state.running} probes in flight, the most --probe.max-in-flight allows; "
        "retry later\n",
        headers={"Retry-After": "1"},
    )
    response.force_close()
    return response


async def self_metrics(request: web.Request) -> web.Response:
    """GET /metrics: the exporter's own metrics."""
    body = generate_latest(request.app[STATE].metrics.registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


async def healthy(request: web.Request) -> web.Response:
    """GET /-/healthy and /-/ready: the process serves requests with a valid config."""
    return web.Response(text="OK\n")


async def reload(request: web.Request) -> web.Response:
    """POST /-/reload: re-read the config file; a bad one is refused (400), the old one kept."""
    refusal = reload_refusal(request, request.app[STATE].enable_lifecycle)
    if refusal is not None:
        return refusal
    try:
        await request.app[STATE].reload()
    except ConfigError as exc:
        _log.error("configuration reload refused: %s", exc)
        return web.Response(status=400, text=f"reload refused, old config kept: {exc}\n")
    notify_supervisor()  # with --web.workers: the other workers reload too
    return web.Response(text="OK\n")


async def show_config(request: web.Request) -> web.Response:
    """GET /config: the running configuration, secrets shown as <secret>."""
    config = request.app[STATE].loaded.config
    text = yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False)
    return web.Response(text=text, content_type="text/plain")


async def show_log(request: web.Request) -> web.Response:
    """GET /logs?id=N: the debug log of a recent probe."""
    raw = request.query.get("id", "")
    # isdigit() also holds for "²" and for 5,000 digits, which int() refuses: ids are small.
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 18):
        raise RequestError("parameter 'id' must be the number of a recent probe", reason="invalid")
    record = request.app[STATE].recent.find(int(raw))
    if record is None:
        return web.Response(status=404, text="no such probe among the recent ones\n")
    return web.Response(text=record.log, content_type="text/plain")


async def landing(request: web.Request) -> web.Response:
    """GET /: version, modules, recent probes with links to their logs."""
    state = request.app[STATE]
    config = state.loaded.config
    modules = "".join(_module_item(n, state.recent.last_success(n)) for n in config.module_names)
    page = f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>CHM exporter</title>
<style>body{{font-family:sans-serif;margin:2em}} table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:.2em .6em;text-align:left}} .fail{{color:#b00}}</style>
</head><body>
<h1>CHM exporter</h1>
<p>Catalyst Health Monitor {html.escape(state.version)} &middot; config
{html.escape(str(state.loaded.path or "(none)"))} &middot;
<a href="/metrics">metrics</a> &middot; <a href="/config">configuration</a> &middot;
<a href="/-/healthy">health</a> &middot; pid {os.getpid()}</p>
<form action="/probe"><label>Target <input name="target" placeholder="192.0.2.1"></label>
<label>Module <input name="module" value="auto"></label>
<input type="hidden" name="debug" value="true"><button>Probe (debug)</button></form>
<h2>Modules</h2><ul>{modules}</ul>
{discovery_routes.landing_section(state.discovery)}
<h2>Recent failed probes</h2>{_table(state.recent.failures)}
<h2>Recent successful probes</h2>{_table(state.recent.successes)}
</body></html>
"""
    return web.Response(text=page, content_type="text/html")


def _module_item(name: str, last: ProbeRecord | None) -> str:
    """A module with a debug link to the last target it succeeded on (127.0.0.1 answers
    nothing: without a success yet, the form above is the way)."""
    if last is None:
        return f"<li>{html.escape(name)}: no successful probe yet; probe one with the form</li>"
    query = urlencode(
        {"target": last.target, "module": name, "auth": last.auth, "debug": "true"}
        if last.auth
        else {"target": last.target, "module": name, "debug": "true"}
    )
    return (
        f'<li>{html.escape(name)}: <a href="/probe?{html.escape(query)}">'
        f"probe {html.escape(last.target)} again (debug)</a></li>"
    )


def _table(records: object) -> str:
    rows = "".join(
        f"<tr><td>{time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(r.at))}</td>"
        f"<td>{html.escape(r.target)}</td><td>{html.escape(r.module)}</td>"
        f"<td>{html.escape(r.auth)}</td>"
        f'<td class="{"" if r.success else "fail"}">{"success" if r.success else "failure"}</td>'
        f'<td>{r.duration:.3f}s</td><td><a href="/logs?id={r.id}">log</a></td></tr>'
        for r in reversed(list(records))  # type: ignore[call-overload]
        if isinstance(r, ProbeRecord)
    )
    if not rows:
        return "<p>none yet</p>"
    return (
        "<table><tr><th>time</th><th>target</th><th>module</th><th>auth</th><th>result</th>"
        f"<th>duration</th><th>debug</th></tr>{rows}</table>"
    )


async def config_reload_on_sighup(app: web.Application) -> AsyncIterator[None]:
    """cleanup_ctx: reload the config on SIGHUP while the app runs."""
    loop = asyncio.get_running_loop()
    state = app[STATE]

    def on_hup() -> None:
        async def run() -> None:
            try:
                await state.reload()
            except ConfigError as exc:
                _log.error("configuration reload on SIGHUP refused: %s", exc)

        task = loop.create_task(run())
        _background.add(task)
        task.add_done_callback(_background.discard)

    loop.add_signal_handler(signal.SIGHUP, on_hup)
    yield
    loop.remove_signal_handler(signal.SIGHUP)


_background: set[asyncio.Task[None]] = set()
