"""What the exporter remembers about a device between scrapes: small, bounded, expiring.

Each prober keeps its own typed state (a class with a no-argument constructor) under a key
that begins with the prober's name: the SNMP prober its learned bulk sizes and cached label
columns, an SSH prober its sessions. The exporter holds no target data beyond this; losing it
costs one slower scrape.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from typing import TypeVar

DEFAULT_TTL_SECONDS = 3600.0
MAX_DEVICES = 20000

S = TypeVar("S")


class DeviceCache:
    """Per-device states by (prober, key...), least recently used dropped past a bound."""

    def __init__(self, ttl: float = DEFAULT_TTL_SECONDS, max_devices: int = MAX_DEVICES) -> None:
        self._ttl = ttl
        self._max = max_devices
        self._states: OrderedDict[tuple[str, ...], tuple[float, object]] = OrderedDict()

    def get(self, prober: str, kind: type[S], *key: str) -> S:
        """The `kind` state of prober `prober` for the device `key`; new when unknown, expired
        or of another kind."""
        full = (prober, *key)
        entry = self._states.get(full)
        now = time.monotonic()
        if entry is None or now - entry[0] > self._ttl or not isinstance(entry[1], kind):
            state = kind()
            self._states[full] = (now, state)
        else:
            state = entry[1]
        self._states.move_to_end(full)
        while len(self._states) > self._max:
            self._states.popitem(last=False)
        return state

    def __len__(self) -> int:
        return len(self._states)
