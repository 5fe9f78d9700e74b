"""Discovery's HTTP side: ``/sd``, ``/topology``, ``/topology.svg``, the landing-page section,
and the cleanup context that starts and stops the jobs with the application."""

from __future__ import annotations

import html
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from aiohttp import web

from chm_exporter.config import LoadedConfig
from chm_exporter.discovery import topology
from chm_exporter.discovery.runner import Discovery
from chm_exporter.discovery.shared import FILE_NAME
from chm_exporter.errors import RequestError
from chm_exporter.selfmetrics import SelfMetrics

__all__ = ["Discovery", "add_routes", "landing_section", "make_discovery"]

Getter = Callable[[web.Application], Discovery]


def make_discovery(
    config: Callable[[], LoadedConfig],
    metrics: SelfMetrics,
    workers_dir: Path | None = None,
    runs_jobs: bool = True,
) -> Discovery:
    """A discovery service counting in the exporter's own metrics; with several workers, the
    directory they share and whether this one runs the jobs (see :mod:`.shared`)."""
    shared = workers_dir / FILE_NAME if workers_dir is not None else None
    return Discovery(config, metrics.discovery, shared=shared, runs_jobs=runs_jobs)


def add_routes(app: web.Application, get: Getter) -> None:
    """Register the routes and the start/stop of the jobs on `app`."""

    async def sd(request: web.Request) -> web.Response:
        """GET /sd[?job=]: Prometheus http_sd target groups of the found devices."""
        discovery = get(request.app)
        job = request.query.get("job")
        if job is not None and job not in discovery.job_names:
            known = ", ".join(discovery.job_names) or "none configured"
            raise RequestError(f"unknown discovery job {job!r} (known: {known})")
        return web.json_response(discovery.sd_groups(job))

    async def topology_json(request: web.Request) -> web.Response:
        """GET /topology: nodes (identity) and edges (both ends' ports, protocol)."""
        return web.json_response(topology.build(get(request.app).registry.devices()))

    async def topology_svg(request: web.Request) -> web.Response:
        """GET /topology.svg: the same as a picture."""
        picture = topology.render_svg(topology.build(get(request.app).registry.devices()))
        return web.Response(text=picture, content_type="image/svg+xml")

    async def jobs(app: web.Application) -> AsyncIterator[None]:
        discovery = get(app)
        discovery.apply()
        yield
        await discovery.close()

    app.router.add_get("/sd", sd)
    app.router.add_get("/topology", topology_json)
    app.router.add_get("/topology.svg", topology_svg)
    app.cleanup_ctx.append(jobs)


def landing_section(discovery: Discovery) -> str:
    """HTML for the landing page: each job's last run, and the map."""
    if not discovery.job_names:
        return ""
    rows = []
    for name in discovery.job_names:
        report = discovery.reports.get(name)
        if report is None:
            rows.append(f"<tr><td>{html.escape(name)}</td><td colspan=5>first run not done</td>")
            continue
        at = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(report.started))
        rows.append(
            f"<tr><td>{html.escape(name)}</td><td>{at}</td><td>{report.duration:.1f}s</td>"
            f"<td>{report.swept}</td><td>{report.identified}</td><td>{len(report.failures)}</td>"
            "</tr>"
        )
    picture = topology.render_svg(topology.build(discovery.registry.devices()))
    return (
        '<h2>Discovery</h2><p><a href="/sd">/sd</a> (Prometheus http_sd) &middot; '
        '<a href="/topology">/topology</a> (JSON) &middot; '
        '<a href="/topology.svg">/topology.svg</a></p>'
        "<table><tr><th>job</th><th>last run</th><th>duration</th><th>swept</th>"
        f"<th>devices</th><th>failures</th></tr>{''.join(rows)}</table>\n{picture}"
    )
