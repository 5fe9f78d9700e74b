"""The exporter's own metrics, served on /metrics (never on /probe)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
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
)
from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector

from chm_exporter.catalogue import DROP_REASONS, MetricType, declared
from chm_exporter.lograte import LOG_RATE

PROBE_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
SSH_FAILURE_REASONS = ("auth", "host_key", "timeout", "connection", "command", "other")


class SelfMetrics:
    """One registry per application (tests build several apps in one process)."""

    def __init__(self, version: str) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        for collector in (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR):
            self.registry.register(collector)
        r = self.registry
        _catalogued(r, Info, "chm_exporter_build", "version").info({"version": version})
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
        self.reload_ok: Gauge = _catalogued(r, Gauge, "chm_exporter_config_last_reload_successful")
        self.reload_time: Gauge = _catalogued(
            r, Gauge, "chm_exporter_config_last_reload_success_timestamp_seconds"
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
        r.register(_SuppressedLogLines())


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
