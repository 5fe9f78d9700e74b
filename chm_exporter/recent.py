"""The most recent probes, successes and failures kept apart, for the landing page."""

from __future__ import annotations

import itertools
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Protocol


class ProbeText(Protocol):
    """A probe's log, formatted when read (:class:`chm_exporter.probelog.ProbeLog`)."""

    def text(self) -> str:
        """All lines, one per line."""
        ...


@dataclass(frozen=True, slots=True)
class ProbeRecord:
    """One finished probe as the landing page shows it."""

    id: int
    target: str
    module: str
    success: bool
    duration: float
    probe_log: ProbeText
    """Formatted only when someone asks for it (:attr:`log`): most never are."""
    auth: str = ""
    """The credentials' names the probers used (never a secret)."""
    at: float = field(default_factory=time.time)

    @property
    def log(self) -> str:
        """The probe's debug log."""
        return self.probe_log.text()


class RecentProbes:
    """Bounded history: the last `size` successes and, apart, the last `size` failures."""

    def __init__(self, size: int = 50) -> None:
        self._ids = itertools.count(1)
        self.successes: deque[ProbeRecord] = deque(maxlen=size)
        self.failures: deque[ProbeRecord] = deque(maxlen=size)

    def add(
        self,
        target: str,
        module: str,
        success: bool,
        duration: float,
        log: ProbeText,
        auth: str = "",
    ) -> ProbeRecord:
        """Record a finished probe and return its record."""
        record = ProbeRecord(next(self._ids), target, module, success, duration, log, auth)
        (self.successes if success else self.failures).append(record)
        return record

    def find(self, probe_id: int) -> ProbeRecord | None:
        """The record with this id, if it is still kept."""
        for record in itertools.chain(self.failures, self.successes):
            if record.id == probe_id:
                return record
        return None

    def last_success(self, module: str) -> ProbeRecord | None:
        """The most recent successful probe of `module`, if one is still kept."""
        return next((r for r in reversed(self.successes) if r.module == module), None)
