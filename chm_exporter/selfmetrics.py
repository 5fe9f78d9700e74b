"""The exporter's own metrics, served on /metrics (never on /probe).

With ``--web.workers`` above 1 (chm_exporter.workers) each worker keeps its counters,
histograms and gauges in prometheus_client's multiprocess files and ``/metrics`` reads all
workers' files: the totals add up whichever worker answers. The ``process_*`` metrics are then
those of the whole exporter (supervisor and workers: CPU and memory summed, open descriptors
summed), and ``chm_exporter_workers`` counts the live workers.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from prometheus_client import (
    GC_COLLECTOR,
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    Info,
    multiprocess,
    values,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from chm_exporter.catalogue import DROP_REASONS, MetricType, declared
from chm_exporter.lograte import LOG_RATE

# Label sets of chm_exporter_probes_total whose children are kept at hand (module names come
# from the config, and combinations of them from requests).
_MAX_CACHED_CHILDREN = 1024
PROBE_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
SSH_FAILURE_REASONS = ("auth", "host_key", "timeout", "connection", "command", "other")


class SelfMetrics:
    """One registry per application (tests build several apps in one process)."""

    def __init__(self, version: str) -> None:
        #: what /metrics exposes (in a worker not described at registration: that would read
        #: the other workers' files, one of which may be still empty while it starts)
        self.registry = CollectorRegistry(auto_describe=_MULTIPROCESS is None)
        if _MULTIPROCESS is None:
            for collector in (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR):
                self.registry.register(collector)
            self.registry.register(_OneWorker())
            r = self.registry
        else:
            # The values live in the workers' files; this registry only keeps names unique.
            r = CollectorRegistry(auto_describe=True)
            _multiprocess_collector(self.registry, _MULTIPROCESS.directory)
            self.registry.register(PLATFORM_COLLECTOR)
            self.registry.register(ProcessGroupCollector(_MULTIPROCESS.supervisor_pid))
        _catalogued(self.registry, Info, "chm_exporter_build", "version").info({"version": version})
        self.probes: Counter = _catalogued(
            r, Counter, "chm_exporter_probes", "module", "prober", "result"
        )
        self.probe_duration: Histogram = _catalogued(
            r, Histogram, "chm_exporter_probe_duration_seconds", "prober", buckets=PROBE_BUCKETS
        )
        self.in_flight: Gauge = _catalogued(r, Gauge, "chm_exporter_probes_in_flight")
        self.invalid_requests: Counter = _catalogued(
            r, Counter, "chm_exporter_invalid_requests", "reason"
        )
        self.rejected: Counter = _catalogued(r, Counter, "chm_exporter_probes_rejected")
        self.dns_busy: Gauge = _catalogued(r, Gauge, "chm_exporter_dns_lookups_busy")
        self.snmp_pdus: Counter = _catalogued(r, Counter, "chm_exporter_snmp_packets_sent")
        self.snmp_retries: Counter = _catalogued(r, Counter, "chm_exporter_snmp_retries")
        self.snmp_timeouts: Counter = _catalogued(r, Counter, "chm_exporter_snmp_timeouts")
        self.icmp_packets: Counter = _catalogued(r, Counter, "chm_exporter_icmp_packets_sent")
        self.reload_ok: Gauge = _catalogued(
            r, Gauge, "chm_exporter_config_last_reload_successful", multiprocess_mode="livemin"
        )
        self.reload_time: Gauge = _catalogued(
            r,
            Gauge,
            "chm_exporter_config_last_reload_success_timestamp_seconds",
            multiprocess_mode="livemin",
        )
        for reason in ("target", "module", "auth", "invalid", "forbidden"):
            self.invalid_requests.labels(reason)
        self.ssh = SshMetrics(r)
        self.discovery = DiscoveryMetrics(r)
        self.samples_dropped: Counter = _catalogued(
            r, Counter, "chm_exporter_samples_dropped", "reason"
        )
        for reason in DROP_REASONS:
            self.samples_dropped.labels(reason)
        # per process: with --web.workers, the count of the worker that answers
        self.registry.register(_SuppressedLogLines())
        # .labels() costs a lock and its arguments' checks per call: the children a probe
        # updates are looked up once per label set (as many as the metrics already hold)
        self._probe_children: dict[tuple[str, str, bool], tuple[Any, Any]] = {}

    def probe_done(self, module: str, prober: str, ok: bool, seconds: float) -> None:
        """Count one prober's part of a probe and observe its duration."""
        key = (module, prober, ok)
        children = self._probe_children.get(key)
        if children is None:
            if len(self._probe_children) >= _MAX_CACHED_CHILDREN:  # modules gone on reload
                self._probe_children.clear()
            children = self._probe_children[key] = (
                self.probes.labels(module, prober, "success" if ok else "failure"),
                self.probe_duration.labels(prober),
            )
        children[0].inc()
        children[1].observe(seconds)


_Kind = type[Counter] | type[Gauge] | type[Histogram] | type[Info]
# How prometheus_client's classes name and type what they expose (counters add `_total`, info
# metrics `_info`), so the catalogue's entry can be found and checked.
_EXPOSED: dict[_Kind, tuple[str, MetricType]] = {
    Counter: ("_total", "counter"),
    Gauge: ("", "gauge"),
    Histogram: ("", "histogram"),
    Info: ("_info", "info"),
}


def _catalogued(
    registry: CollectorRegistry, kind: _Kind, name: str, *labels: str, **options: Any
) -> Any:
    """A metric with the catalogue's HELP text, checked against its type and label names (an
    info metric's `labels` are the keys its ``.info()`` sets, not label names of the family).

    Raises:
        UndeclaredMetricError: the catalogue does not declare it so (a bug, met at start).
    """
    suffix, mtype = _EXPOSED[kind]
    known = declared(f"{name}{suffix}", labels, mtype)
    labelnames = () if kind is Info else labels
    if kind is Gauge:
        # with --web.workers: the gauge of every live worker, summed, unless said otherwise
        options.setdefault("multiprocess_mode", "livesum")
    return kind(name, known.help, labelnames, registry=registry, **options)


class SshMetrics:
    """The SSH prober's sessions on /metrics (HELP texts from the metric catalogue)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        def made(kind: type[Counter] | type[Gauge], name: str, *labels: str) -> Any:
            return _catalogued(registry, kind, name, *labels)

        self.open: Gauge = made(Gauge, "chm_exporter_ssh_sessions_open")
        self.logins: Counter = made(Counter, "chm_exporter_ssh_logins")
        self.reuses: Counter = made(Counter, "chm_exporter_ssh_session_reuses")
        self.failures: Counter = made(Counter, "chm_exporter_ssh_failures", "reason")
        self.waits: Counter = made(Counter, "chm_exporter_ssh_session_waits")
        self.wait_seconds: Counter = made(Counter, "chm_exporter_ssh_session_wait_seconds")
        self.closed_idle: Counter = made(Counter, "chm_exporter_ssh_sessions_closed_idle")
        for reason in SSH_FAILURE_REASONS:
            self.failures.labels(reason)


DISCOVERY_FAILURE_REASONS = ("not_identified", "device_info", "resolve", "run_error")


class DiscoveryMetrics:
    """Per discovery job: devices by vendor, addresses swept, packets, runs, last run time and
    duration, interval, failures by reason (HELP texts from the metric catalogue)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        def made(kind: type[Counter] | type[Gauge], name: str, *labels: str) -> Any:
            return _catalogued(registry, kind, f"chm_exporter_discovery_{name}", *labels)

        self._vendors: dict[str, set[str]] = {}
        self.devices: Gauge = made(Gauge, "devices", "discovery_job", "vendor")
        self.addresses_swept: Counter = made(Counter, "addresses_swept", "discovery_job")
        self.packets: Counter = made(Counter, "packets_sent", "discovery_job")
        self.new_devices: Counter = made(Counter, "new_devices", "discovery_job")
        self.runs: Counter = made(Counter, "runs", "discovery_job")
        self.last_run: Gauge = made(Gauge, "last_run_timestamp_seconds", "discovery_job")
        self.last_duration: Gauge = made(Gauge, "last_run_duration_seconds", "discovery_job")
        self.interval: Gauge = made(Gauge, "interval_seconds", "discovery_job")
        self.failures: Counter = made(Counter, "failures", "discovery_job", "reason")

    def configure(self, job: str, interval: float, now: float) -> None:
        """A job appears: its interval, and "last run" starting at now."""
        self.interval.labels(job).set(interval)
        if job not in self._vendors:
            self._vendors[job] = set()
            self.last_run.labels(job).set(now)
        for reason in DISCOVERY_FAILURE_REASONS:
            self.failures.labels(job, reason)
        self.addresses_swept.labels(job)
        self.packets.labels(job)
        self.new_devices.labels(job)
        self.runs.labels(job)

    def forget(self, job: str) -> None:
        """A job was removed from the config."""
        for metric in (self.interval, self.last_run, self.last_duration, self.addresses_swept,
                       self.packets, self.new_devices, self.runs):  # fmt: skip
            with contextlib.suppress(KeyError):
                metric.remove(job)
        for reason in DISCOVERY_FAILURE_REASONS:
            with contextlib.suppress(KeyError):
                self.failures.remove(job, reason)
        self.set_vendors(job, {})
        self._vendors.pop(job, None)

    def set_vendors(self, job: str, counts: dict[str, int]) -> None:
        """Devices per vendor for `job` (vendors no longer present removed)."""
        for vendor in self._vendors.get(job, set()) - set(counts):
            self.devices.remove(job, vendor)
        self._vendors[job] = set(counts)
        for vendor, n in counts.items():
            self.devices.labels(job, vendor).set(n)


_SUPPRESSED = declared("chm_exporter_log_messages_suppressed_total", ("logger",), "counter")


class _SuppressedLogLines(Collector):
    """The log lines the rate limit left out (a process-wide count, read at scrape time)."""

    def collect(self) -> Iterator[CounterMetricFamily]:
        family = CounterMetricFamily(
            "chm_exporter_log_messages_suppressed", _SUPPRESSED.help, labels=_SUPPRESSED.labels
        )
        for logger, count in sorted(LOG_RATE.suppressed.items()):
            family.add_metric([logger], count)
        yield family


# -- several workers ------------------------------------------------------------------------------
# prometheus_client's multiprocess functions carry no annotations: typed here.
_multiprocess_collector: Callable[[CollectorRegistry, str], object] = (
    multiprocess.MultiProcessCollector
)
_multiprocess_value: Callable[[], type] = values.MultiProcessValue
_mark_process_dead: Callable[[int, str], None] = multiprocess.mark_process_dead


class _Multiprocess:
    """Where this worker's metric files go, and its supervisor."""

    def __init__(self, directory: str, supervisor_pid: int) -> None:
        self.directory = directory
        self.supervisor_pid = supervisor_pid


_MULTIPROCESS: _Multiprocess | None = None


def enable_multiprocess(directory: str, supervisor_pid: int) -> None:
    """In a freshly forked worker, before any SelfMetrics: keep values in ``directory``'s files.

    prometheus_client picks its value class from ``PROMETHEUS_MULTIPROC_DIR`` at import, which
    happened in the supervisor before the fork; a metric takes ``values.ValueClass`` when it is
    created, so setting it here is enough.
    """
    global _MULTIPROCESS
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory
    values.ValueClass = _multiprocess_value()
    _MULTIPROCESS = _Multiprocess(directory, supervisor_pid)


def worker_exited(pid: int, directory: str) -> None:
    """In the supervisor: drop a gone worker's live gauges (in-flight, reload state)."""
    _mark_process_dead(pid, directory)


_WORKERS_HELP = "Worker processes serving requests (--web.workers)."


class _OneWorker(Collector):
    """``chm_exporter_workers 1`` of a single process."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        yield GaugeMetricFamily("chm_exporter_workers", _WORKERS_HELP, value=1)


_CLK_TCK = os.sysconf("SC_CLK_TCK")
_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


def _boot_time() -> float:
    for line in Path("/proc/stat").read_text().splitlines():
        if line.startswith("btime "):
            return float(line.split()[1])
    return 0.0


class ProcessGroupCollector(Collector):
    """``process_*`` of the supervisor and all its workers together (Linux /proc)."""

    def __init__(self, supervisor_pid: int) -> None:
        self._supervisor = supervisor_pid
        self._boot = _boot_time()

    def _pids(self) -> tuple[list[int], int]:
        """(supervisor and workers, number of workers)."""
        sup = self._supervisor
        try:
            children = Path(f"/proc/{sup}/task/{sup}/children").read_text().split()
        except OSError:
            return [os.getpid()], 1
        return [sup, *map(int, children)], len(children)

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        pids, workers = self._pids()
        cpu = rss = vms = 0.0
        fds = 0
        start = None
        for pid in pids:
            try:
                stat = Path(f"/proc/{pid}/stat").read_text()
                fds += len(os.listdir(f"/proc/{pid}/fd"))
            except OSError:  # exited meanwhile
                continue
            fields = stat[stat.rindex(")") + 2 :].split()
            cpu += (int(fields[11]) + int(fields[12])) / _CLK_TCK
            vms += int(fields[20])
            rss += int(fields[21]) * _PAGE_SIZE
            if pid == self._supervisor:
                start = self._boot + int(fields[19]) / _CLK_TCK
        yield CounterMetricFamily(
            "process_cpu_seconds",
            "Total user and system CPU time spent in seconds (supervisor and workers).",
            value=cpu,
        )
        yield GaugeMetricFamily(
            "process_resident_memory_bytes",
            "Resident memory size in bytes (supervisor and workers, summed).",
            value=rss,
        )
        yield GaugeMetricFamily(
            "process_virtual_memory_bytes",
            "Virtual memory size in bytes (supervisor and workers, summed).",
            value=vms,
        )
        yield GaugeMetricFamily(
            "process_open_fds",
            "Number of open file descriptors (supervisor and workers, summed).",
            value=fds,
        )
        if start is not None:
            yield GaugeMetricFamily(
                "process_start_time_seconds",
                "Start time of the supervisor since unix epoch in seconds.",
                value=start,
            )
        yield GaugeMetricFamily(
            "chm_exporter_workers",
            _WORKERS_HELP,
            value=workers,
        )
