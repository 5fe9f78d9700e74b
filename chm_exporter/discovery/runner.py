"""Discovery jobs on their interval: sweep, identify, crawl, list.

Each job runs in its own task, one run at a time (a run starts ``interval`` after the previous
one ended; a reload that changes a job cancels its run and starts the new one after it).
Identification and crawl of all jobs together go through one semaphore
(``discovery.concurrency``) and never through /probe's path, so a sweep cannot hold a probe up
beyond sharing the event loop. The packets of all jobs (sweeps, and an estimate of each
identification's and crawl's requests) share one :class:`RateLimiter`.

With ``--web.workers N`` one worker runs the jobs and the others follow it (:mod:`.shared`):
:class:`Discovery` is then made with ``shared=`` the file between them, and ``runs_jobs=False``
in the followers, whose registry and reports are the file's.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chm_exporter.config import CommunityAuth, LoadedConfig, UsmAuth
from chm_exporter.discovery.identify import (
    Examined,
    NotIdentifiedError,
    ReadSettings,
    examine,
)
from chm_exporter.discovery.model import DiscoveryConfig, DiscoveryJob
from chm_exporter.discovery.reader import PacedReader, SnmpReader, WalkerReader
from chm_exporter.discovery.registry import Device, Registry, write_atomically
from chm_exporter.discovery.report import RunReport
from chm_exporter.discovery.shared import SharedFile, save
from chm_exporter.discovery.sweep import RateLimiter, SweepSettings, sweep
from chm_exporter.errors import ChmError
from chm_exporter.probelog import ProbeLog
from chm_exporter.resolver import Resolver
from chm_exporter.selfmetrics import DiscoveryMetrics
from chm_exporter.target import parse_target

_log = logging.getLogger("chm_exporter.discovery")
MAX_REPORTED_FAILURES = 20


@dataclass(slots=True)
class _Candidate:
    address: str
    first_auth: int
    depth: int


class Discovery:
    """Runs the configured discovery jobs and keeps what they found."""

    def __init__(
        self,
        config: Callable[[], LoadedConfig],
        metrics: DiscoveryMetrics,
        reader: SnmpReader | None = None,
        *,
        shared: Path | None = None,
        runs_jobs: bool = True,
    ) -> None:
        """Args:
        config: the current config (read afresh by every run).
        metrics: where runs are counted (only by the process that runs the jobs).
        reader: the SNMP seam (default: the exporter's walker).
        shared: the file between workers: the one that runs the jobs writes it, the others
            read it.
        runs_jobs: False in the workers that only follow the one that runs them.
        """
        self._config = config
        self.metrics = metrics
        self.reader: SnmpReader = reader or WalkerReader()
        self._registry = Registry()
        self.resolver = Resolver()  # seeds' names: a hung DNS delays no probe
        discovery = config().config.discovery
        self.limiter = RateLimiter(discovery.rate)
        self._reports: dict[str, RunReport] = {}
        self.shared = shared
        self._follows = None if runs_jobs or shared is None else SharedFile(shared)
        self._budget = asyncio.Semaphore(discovery.concurrency)
        self._budget_size = discovery.concurrency
        self._tasks: dict[str, tuple[DiscoveryJob, asyncio.Task[None]]] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    @property
    def runs_jobs(self) -> bool:
        """Whether this process runs the jobs (False: it follows the worker that does)."""
        return self._follows is None

    @property
    def registry(self) -> Registry:
        """The devices found (in a follower: as the shared file says now)."""
        self._read_shared()
        return self._registry

    @property
    def reports(self) -> dict[str, RunReport]:
        """The last run of each job (in a follower: as the shared file says now)."""
        self._read_shared()
        return self._reports

    def _read_shared(self) -> None:
        if self._follows is not None and self._follows.refresh():
            self._registry.replace(self._follows.devices)
            self._reports = self._follows.reports

    @property
    def job_names(self) -> list[str]:
        """Configured jobs, in config order."""
        return [job.name for job in self._config().config.discovery.jobs]

    def apply(self) -> None:
        """Start, restart or stop job tasks to match the current config (start and reload)."""
        discovery = self._config().config.discovery
        if not self.runs_jobs:
            return
        self._follow(discovery)
        wanted = {job.name: job for job in discovery.jobs}
        for name, (job, task) in list(self._tasks.items()):
            if wanted.get(name) != job:
                task.cancel()
                del self._tasks[name]
                if name not in wanted:
                    self.metrics.forget(name)
                    self._reports.pop(name, None)
        self._registry.keep_jobs(wanted)
        self._share()
        for name, job in wanted.items():
            if name not in self._tasks:
                self.metrics.configure(name, job.interval, time.time())
                task = asyncio.create_task(self._loop(job), name=f"discovery {name}")
                self._tasks[name] = (job, task)

    def _follow(self, discovery: DiscoveryConfig) -> None:
        """The shared rate and budget as the config says now (runs read the config afresh)."""
        self.limiter.rate = discovery.rate
        if discovery.concurrency != self._budget_size:
            self._budget = asyncio.Semaphore(discovery.concurrency)
            self._budget_size = discovery.concurrency

    async def close(self) -> None:
        """Stop every job task and wait for them."""
        tasks = [task for _, task in self._tasks.values()]
        self._tasks.clear()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _loop(self, job: DiscoveryJob) -> None:
        while True:
            try:
                await self.run_once(job)
            except Exception:  # a bug: logged and counted, the job runs again next interval
                _log.exception("discovery job %s: run failed", job.name)
                self.metrics.failures.labels(job.name, "run_error").inc()
            await asyncio.sleep(job.interval)

    async def run_once(self, job: DiscoveryJob) -> RunReport:
        """One run of `job` (waits for a run of the same job in progress to end)."""
        lock = self._locks.setdefault(job.name, asyncio.Lock())
        async with lock:
            return await self._run(job)

    async def _run(self, job: DiscoveryJob) -> RunReport:
        loaded = self._config()
        self._follow(loaded.config.discovery)
        started, clock = time.time(), time.perf_counter()
        report = RunReport(job.name, started)
        auths = [(name, loaded.config.auths[name]) for name in job.auths]
        swept = await sweep(
            job.addresses(),
            [a for _, a in auths],
            self.limiter,
            SweepSettings(job.port, job.timeout, job.retries),
        )
        report.swept, report.answered_sweep = swept.addresses, len(swept.answered)
        self.metrics.addresses_swept.labels(job.name).inc(swept.addresses)
        self.metrics.packets.labels(job.name).inc(swept.packets_sent)
        level = [_Candidate(a, i, 0) for a, i in swept.answered.items()]
        level += await self._seeds(job, loaded, set(swept.answered), report)
        visited = {c.address for c in level}
        protocols = tuple(p for p in ("lldp", "cdp") if getattr(job.crawl, p))
        settings = ReadSettings(job.port, job.timeout, job.retries, protocols)
        devices: list[Device] = []
        while level:
            found = await asyncio.gather(
                *(self._examine(job, loaded, auths, c, settings, report) for c in level)
            )
            following: list[_Candidate] = []
            for candidate, examined in zip(level, found, strict=True):
                if examined is None:
                    continue
                devices.append(
                    Device(
                        job=job.name,
                        address=candidate.address,
                        port=job.port,
                        module=job.module,
                        examined=examined,
                        depth=candidate.depth,
                        first_seen=started,
                        last_seen=started,
                    )
                )
                report.max_depth_reached = max(report.max_depth_reached, candidate.depth)
                if candidate.depth < job.crawl.max_depth:
                    following += self._neighbors(job, examined, candidate.depth + 1, visited)
            report.crawled += len(following)
            level = following
        report.identified = len(devices)
        self._finish(job, loaded, devices, report, time.perf_counter() - clock)
        return report

    async def _seeds(
        self, job: DiscoveryJob, loaded: LoadedConfig, known: set[str], report: RunReport
    ) -> list[_Candidate]:
        out = []
        for seed in job.seeds:
            try:
                address = (await self.resolver.resolve(parse_target(seed))).pick("ip4")
            except ChmError as exc:
                self._fail(job, report, "resolve", f"seed {seed}: {exc}")
                continue
            if not loaded.config.seed_allowed(job.auths, address):
                self._fail(job, report, "resolve", f"seed {seed}: {address} not allowed")
                continue
            if address not in known:
                known.add(address)
                out.append(_Candidate(address, 0, 0))
        return out

    def _neighbors(
        self, job: DiscoveryJob, examined: Examined, depth: int, visited: set[str]
    ) -> list[_Candidate]:
        out = []
        for neighbor in examined.neighbors:
            try:
                address = ipaddress.ip_address(neighbor.remote_address)
            except ValueError:
                continue
            text = str(address)
            if text in visited or not job.within(address):
                continue
            visited.add(text)
            out.append(_Candidate(text, 0, depth))
        return out

    async def _examine(
        self,
        job: DiscoveryJob,
        loaded: LoadedConfig,
        auths: list[tuple[str, CommunityAuth | UsmAuth]],
        candidate: _Candidate,
        settings: ReadSettings,
        report: RunReport,
    ) -> Examined | None:
        log = ProbeLog(candidate.address, f"discovery:{job.name}")
        async with self._budget:
            try:
                examined = await examine(
                    PacedReader(self.reader, self.limiter),
                    candidate.address,
                    auths[candidate.first_auth :],
                    loaded.profiles,
                    settings,
                    log,
                )
            except NotIdentifiedError as exc:
                self._fail(job, report, "not_identified", f"{candidate.address}: {exc}")
                return None
        if examined.failure:
            self._fail(job, report, "device_info", f"{candidate.address}: {examined.failure}")
        return examined

    def _fail(self, job: DiscoveryJob, report: RunReport, reason: str, text: str) -> None:
        self.metrics.failures.labels(job.name, reason).inc()
        _log.debug("discovery job %s: %s", job.name, text)
        if len(report.failures) < MAX_REPORTED_FAILURES:
            report.failures.append(text)

    def _finish(
        self,
        job: DiscoveryJob,
        loaded: LoadedConfig,
        devices: list[Device],
        report: RunReport,
        duration: float,
    ) -> None:
        now = time.time()
        new, gone = self.registry.update(job.name, devices, now, job.grace_seconds)
        for device in new:
            ident = device.examined.identity
            _log.info("discovery job %s: new device %s (%s %s %s, auth %s)", job.name,
                      device.target, ident.sys_name, ident.vendor, ident.model,
                      device.examined.auth_name)  # fmt: skip
        for device in gone:
            _log.info("discovery job %s: %s left (grace over)", job.name, device.target)
        vendors = Counter(
            d.examined.identity.vendor or "unknown" for d in self.registry.devices(job.name)
        )
        self.metrics.set_vendors(job.name, dict(vendors))
        self.metrics.new_devices.labels(job.name).inc(len(new))
        self.metrics.runs.labels(job.name).inc()
        self.metrics.last_run.labels(job.name).set(now)
        self.metrics.last_duration.labels(job.name).set(duration)
        report.duration = duration
        self._reports[job.name] = report
        self._share()
        _log.info(
            "discovery job %s: %d swept, %d answered, %d identified in %.1fs",
            job.name, report.swept, report.answered_sweep, report.identified, duration,
        )  # fmt: skip
        self.write_sd_file(loaded)

    def _share(self) -> None:
        """Write what was found for the other workers (when there are others)."""
        if self.shared is None:
            return
        try:
            save(self.shared, self._registry.devices(), self._reports)
        except OSError as exc:
            _log.error("discovery: cannot write %s for the other workers: %s", self.shared, exc)

    def sd_groups(self, job: str | None = None) -> list[dict[str, Any]]:
        """The /sd answer."""
        return self.registry.sd_groups(self.job_names, job)

    def write_sd_file(self, loaded: LoadedConfig) -> None:
        """Write the /sd answer to ``discovery.sd_file``, if configured (atomically)."""
        name = loaded.config.discovery.sd_file
        if name is None:
            return
        path = Path(name)
        if not path.is_absolute() and loaded.path is not None:
            path = loaded.path.parent / path
        try:
            write_atomically(path, self.sd_groups())
        except OSError as exc:
            _log.error("discovery: cannot write %s: %s", path, exc)
