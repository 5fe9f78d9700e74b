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

from chm_exporter.catalogue import catalogue
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
        Info("chm_exporter_build", "Version of the exporter.", registry=r).info(
            {"version": version}
        )
        self.probes = Counter(
            "chm_exporter_probes",
            "Probes run, by module, prober and result (success or failure).",
            ["module", "prober", "result"],
            registry=r,
        )
        self.probe_duration = Histogram(
            "chm_exporter_probe_duration_seconds",
            "Wall time of each prober's run.",
            ["prober"],
            buckets=PROBE_BUCKETS,
            registry=r,
        )
        self.in_flight = Gauge(
            "chm_exporter_probes_in_flight", "Probe requests being answered now.", registry=r
        )
        self.invalid_requests = Counter(
            "chm_exporter_invalid_requests",
            "Requests answered with HTTP 400, by reason.",
            ["reason"],
            registry=r,
        )
        self.snmp_pdus = Counter(
            "chm_exporter_snmp_packets_sent", "SNMP request PDUs sent.", registry=r
        )
        self.snmp_retries = Counter(
            "chm_exporter_snmp_retries", "SNMP requests sent again after a timeout.", registry=r
        )
        self.snmp_timeouts = Counter(
            "chm_exporter_snmp_timeouts", "SNMP requests that got no answer in time.", registry=r
        )
        self.icmp_packets = Counter(
            "chm_exporter_icmp_packets_sent", "ICMP echo requests sent.", registry=r
        )
        self.reload_ok = Gauge(
            "chm_exporter_config_last_reload_successful",
            "Whether the last configuration load or reload succeeded (1) or was refused (0).",
            registry=r,
        )
        self.reload_time = Gauge(
            "chm_exporter_config_last_reload_success_timestamp_seconds",
            "Unix time of the last successful configuration load.",
            registry=r,
        )
        for reason in ("target", "module", "auth", "invalid", "forbidden"):
            self.invalid_requests.labels(reason)
        self.ssh = SshMetrics(r)
        self.discovery = DiscoveryMetrics(r)
        self.samples_dropped = Counter(
            "chm_exporter_samples_dropped",
            catalogue()["chm_exporter_samples_dropped_total"].help,
            ["reason"],
            registry=r,
        )
        for reason in ("not_finite", "negative_counter"):
            self.samples_dropped.labels(reason)
        r.register(_SuppressedLogLines())


def _catalogued(
    registry: CollectorRegistry, kind: type[Counter] | type[Gauge], name: str, *labels: str
) -> Any:
    """A metric whose HELP text is the catalogue's."""
    full = f"{name}_total" if kind is Counter else name
    return kind(name, catalogue()[full].help, labels, registry=registry)


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


class _SuppressedLogLines(Collector):
    """The log lines the rate limit left out (a process-wide count, read at scrape time)."""

    def collect(self) -> Iterator[CounterMetricFamily]:
        family = CounterMetricFamily(
            "chm_exporter_log_messages_suppressed",
            catalogue()["chm_exporter_log_messages_suppressed_total"].help,
            labels=["logger"],
        )
        for logger, count in sorted(LOG_RATE.suppressed.items()):
            family.add_metric([logger], count)
        yield family
