"""What the exporter remembers about a device between scrapes: small, bounded, expiring.

The exporter holds no target data beyond this; losing it costs one slower scrape.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass, field

from chm_exporter.profiles.values import RawValue

DEFAULT_TTL_SECONDS = 3600.0
MAX_DEVICES = 20000


@dataclass(slots=True)
class DeviceState:
    """Per-device knowledge: learned bulk sizes, the auto-chosen profiles, lookup columns."""

    created: float = field(default_factory=time.monotonic)
    bulk_limits: dict[str, int] = field(default_factory=dict)
    column_rows: dict[str, int] = field(default_factory=dict)
    profiles: tuple[str, ...] | None = None
    lookups: dict[str, dict[str, RawValue]] = field(default_factory=dict)
    lookups_at: float = 0.0
    uptime: float | None = None

    def forget(self) -> None:
        """Drop what a reboot may have changed (profiles, lookup tables)."""
        self.profiles = None
        self.column_rows = {}
        self.lookups = {}
        self.lookups_at = 0.0

    def saw_uptime(self, uptime: float | None) -> bool:
        """Record the device's uptime; True (and everything forgotten) when it went back."""
        rebooted = uptime is not None and self.uptime is not None and uptime < self.uptime
        if rebooted:
            self.forget()
        if uptime is not None:
            self.uptime = uptime
        return rebooted


class DeviceCache:
    """Device states by key (address, port, auth), least recently used dropped past a bound."""

    def __init__(self, ttl: float = DEFAULT_TTL_SECONDS, max_devices: int = MAX_DEVICES) -> None:
        self._ttl = ttl
        self._max = max_devices
        self._states: OrderedDict[tuple[str, ...], DeviceState] = OrderedDict()

    def get(self, *key: str) -> DeviceState:
        """The state of a device, new when unknown or expired."""
        state = self._states.get(key)
        if state is None or time.monotonic() - state.created > self._ttl:
            state = self._states[key] = DeviceState()
        self._states.move_to_end(key)
        while len(self._states) > self._max:
            self._states.popitem(last=False)
        return state

    def __len__(self) -> int:
        return len(self._states)
