"""What the exporter remembers about a device between scrapes: small, bounded, expiring.

Each prober keeps its own typed state (a class with a no-argument constructor, or a factory
given to :meth:`DeviceCache.get`) under a key that begins with the prober's name: the SNMP
prober its learned bulk sizes and cached label columns, the SSH prober its session (see
chm_exporter.ssh.sessions). The exporter holds no target data beyond this; losing it costs one
slower scrape.

A state that holds a resource says what to do when the cache lets it go: its ``evicted()``
method (:class:`Evictable`) runs when the state is dropped, as the least recently used one past
the bound or as expired, so an evicted device's SSH session is closed and not left to the
process's end. Expiry counts from the state's creation (the SNMP state then re-learns the
device hourly), or from its last use for a state whose class sets ``expires_when_idle = True``
(an SSH session in use every minute is kept; one unused for the TTL is closed). The least
recently used state is looked at on every ``get`` and dropped when expired, so the state of a
device no longer scraped goes too.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Protocol, TypeVar, runtime_checkable

DEFAULT_TTL_SECONDS = 3600.0
MAX_DEVICES = 20000

S = TypeVar("S")


@runtime_checkable
class Evictable(Protocol):
    """A state with something to release when the cache drops it."""

    def evicted(self) -> None:
        """Called once when the cache drops this state (bound, expiry, or replacement)."""


class _Entry:
    __slots__ = ("created", "state", "used")

    def __init__(self, now: float, state: object) -> None:
        self.created = self.used = now
        self.state = state

    def expired(self, now: float, ttl: float) -> bool:
        since = self.used if getattr(self.state, "expires_when_idle", False) else self.created
        return now - since > ttl


class DeviceCache:
    """Per-device states by (prober, key...), least recently used dropped past a bound."""

    def __init__(self, ttl: float = DEFAULT_TTL_SECONDS, max_devices: int = MAX_DEVICES) -> None:
        self._ttl = ttl
        self._max = max_devices
        self._states: OrderedDict[tuple[str, ...], _Entry] = OrderedDict()

    def get(self, prober: str, kind: type[S], *key: str, new: Callable[[], S] | None = None) -> S:
        """The `kind` state of prober `prober` for the device `key`; new (``new()``, else
        ``kind()``) when unknown, expired or of another kind."""
        full = (prober, *key)
        entry = self._states.get(full)
        now = time.monotonic()
        if entry is None or entry.expired(now, self._ttl) or not isinstance(entry.state, kind):
            if entry is not None:
                _release(entry.state)
            state = new() if new is not None else kind()
            entry = self._states[full] = _Entry(now, state)
        else:
            state = entry.state
            entry.used = now
        self._states.move_to_end(full)
        # Past the bound, and the least recently used ones that expired (devices no longer
        # scraped): a few at a time, so no scrape pays for a sweep of the whole cache.
        while len(self._states) > self._max or self._oldest_expired(now):
            _release(self._states.popitem(last=False)[1].state)
        return state

    def _oldest_expired(self, now: float) -> bool:
        oldest = next(iter(self._states.values()))
        return oldest.expired(now, self._ttl)

    def __len__(self) -> int:
        return len(self._states)


def _release(state: object) -> None:
    if isinstance(state, Evictable):
        state.evicted()
