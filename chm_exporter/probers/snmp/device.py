"""What the SNMP prober remembers per device, and how it notices a reboot.

A reboot is seen in the uptime the walk read (not in the metrics rendered from it): when it
goes back, what a reboot may change (chosen profiles, row counts, cached label columns) is
forgotten.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from chm_exporter.walk import RawValue, WalkResult

# Uptime instance OIDs, preferred first (as the system profile's chm_device_uptime_seconds
# reads them), with their unit in seconds: HOST-RESOURCES-MIB::hrSystemUptime,
# SNMP-FRAMEWORK-MIB::snmpEngineTime, SNMPv2-MIB::sysUpTime.
UPTIME_OIDS: tuple[tuple[str, float], ...] = (
    ("1.3.6.1.2.1.25.1.1.0", 0.01),
    ("1.3.6.1.6.3.10.2.1.3.0", 1.0),
    ("1.3.6.1.2.1.1.3.0", 0.01),
)


@dataclass(slots=True)
class SnmpDeviceState:
    """Learned bulk sizes, row counts and bytes per row, the auto-chosen profiles, cached label
    columns, the last walk's PDUs."""

    bulk_limits: dict[str, int] = field(default_factory=dict)
    column_rows: dict[str, int] = field(default_factory=dict)
    column_row_bytes: dict[str, int] = field(default_factory=dict)
    profiles: tuple[str, ...] | None = None
    lookups: dict[str, dict[str, RawValue]] = field(default_factory=dict)
    lookups_at: float = 0.0
    uptime: float | None = None
    pdus: int | None = None
    """The PDUs the last complete walk took (sizes the next one's concurrency)."""
    pdu_seconds: float | None = None
    """That walk's time per PDU and worker (:attr:`Walker.pdu_seconds`)."""

    def forget(self) -> None:
        """Drop what a reboot may have changed (profiles, row counts and sizes, lookup tables,
        the walk's PDUs)."""
        self.profiles = None
        self.column_rows = {}
        self.column_row_bytes = {}
        self.lookups = {}
        self.lookups_at = 0.0
        self.pdus = None
        self.pdu_seconds = None

    def saw_uptime(self, uptime: float | None) -> bool:
        """Record the device's uptime; True (and everything forgotten) when it went back."""
        rebooted = uptime is not None and self.uptime is not None and uptime < self.uptime
        if rebooted:
            self.forget()
        if uptime is not None:
            self.uptime = uptime
        return rebooted


def walked_uptime(result: WalkResult) -> float | None:
    """The device's uptime in seconds from the walk, the first uptime OID that answered."""
    for oid, unit in UPTIME_OIDS:
        raw = result.column(oid).get("")
        if isinstance(raw, int | float) and not isinstance(raw, bool):
            return raw * unit
    return None
