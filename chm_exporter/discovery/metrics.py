"""Discovery's own metrics, on the exporter's /metrics."""

from __future__ import annotations

import contextlib

from prometheus_client import CollectorRegistry, Counter, Gauge

FAILURE_REASONS = ("not_identified", "device_info", "resolve", "run_error")


class DiscoveryMetrics:
    """Per job: devices by vendor, addresses swept, run times, failures by reason."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._vendors: dict[str, set[str]] = {}
        r = registry
        self.devices = Gauge(
            "chm_exporter_discovery_devices",
            "Devices a discovery job lists now (found, or within their grace period), by vendor.",
            ["discovery_job", "vendor"],
            registry=r,
        )
        self.addresses_swept = Counter(
            "chm_exporter_discovery_addresses_swept",
            "Addresses a discovery job's sweeps asked.",
            ["discovery_job"],
            registry=r,
        )
        self.packets = Counter(
            "chm_exporter_discovery_packets_sent",
            "SNMP requests the sweeps sent (identification and crawl not counted).",
            ["discovery_job"],
            registry=r,
        )
        self.new_devices = Counter(
            "chm_exporter_discovery_new_devices",
            "Devices a discovery job listed for the first time since the exporter started.",
            ["discovery_job"],
            registry=r,
        )
        self.runs = Counter(
            "chm_exporter_discovery_runs",
            "Discovery runs completed.",
            ["discovery_job"],
            registry=r,
        )
        self.last_run = Gauge(
            "chm_exporter_discovery_last_run_timestamp_seconds",
            "Unix time the job's last run completed (its configuration time until the first).",
            ["discovery_job"],
            registry=r,
        )
        self.last_duration = Gauge(
            "chm_exporter_discovery_last_run_duration_seconds",
            "How long the job's last completed run took.",
            ["discovery_job"],
            registry=r,
        )
        self.interval = Gauge(
            "chm_exporter_discovery_interval_seconds",
            "The job's configured interval between runs.",
            ["discovery_job"],
            registry=r,
        )
        self.failures = Counter(
            "chm_exporter_discovery_failures",
            "Addresses or runs that failed, by reason: not_identified (answered the sweep, "
            "no auth read it), device_info (identified, vendor fields and neighbours failed), "
            "resolve (a seed has no address), run_error (a bug; the run stopped).",
            ["discovery_job", "reason"],
            registry=r,
        )

    def configure(self, job: str, interval: float, now: float) -> None:
        """A job appears: its interval, and "last run" starting at now."""
        self.interval.labels(job).set(interval)
        if job not in self._vendors:
            self._vendors[job] = set()
            self.last_run.labels(job).set(now)
        for reason in FAILURE_REASONS:
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
        for reason in FAILURE_REASONS:
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
