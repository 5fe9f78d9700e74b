"""Rate limit for repeated log lines: a flood of one error (accept() failing for want of file
descriptors, a traceback per malformed HTTP request) must not fill the disk or eat the CPU.

Warnings and errors are grouped by logger, message template and exception type; each group may
write :data:`BURST` lines per :data:`WINDOW_SECONDS`, the rest are counted (in
``chm_exporter_log_messages_suppressed_total``) and the next line written says how many were
left out. A malformed HTTP request (aiohttp's ``BadHttpMessage``) is the client's fault: its
traceback is cut to one line.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter

from aiohttp.http_exceptions import HttpProcessingError

BURST = 5
WINDOW_SECONDS = 60.0
_MAX_GROUPS = 10_000


class RateLimitFilter(logging.Filter):
    """A handler filter that lets :data:`BURST` lines of each kind through per window."""

    def __init__(self, burst: int = BURST, window: float = WINDOW_SECONDS) -> None:
        super().__init__()
        self.burst = burst
        self.window = window
        self.suppressed: Counter[str] = Counter()
        """Lines left out since start, by logger name (read by the self-metrics)."""
        self._groups: dict[tuple[str, str, str], tuple[float, int, int]] = {}
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return True
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, HttpProcessingError):
            reason = str(exc.message)[:200].replace("%", "%%")
            record.msg = f"{record.msg}: {type(exc).__name__}: {reason}"
            record.exc_info = None
        key = (record.name, str(record.msg).split("\n", 1)[0], type(exc).__name__)
        now = time.monotonic()
        with self._lock:
            start, shown, hidden = self._groups.get(key, (now, 0, 0))
            if now - start >= self.window:
                start, shown = now, 0
            if shown >= self.burst:
                self._groups[key] = (start, shown, hidden + 1)
                self.suppressed[record.name] += 1
                return False
            if len(self._groups) >= _MAX_GROUPS and key not in self._groups:
                self._groups.clear()
            self._groups[key] = (start, shown + 1, 0)
        if hidden:
            record.msg = f"{record.msg} ({hidden} similar lines left out before this one)"
        return True


LOG_RATE = RateLimitFilter()
"""The process's filter, installed on the log handler by :func:`logsetup.setup_logging`."""
