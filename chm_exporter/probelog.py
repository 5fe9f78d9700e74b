"""A logger per probe: every line is kept for ?debug=true and the landing page, and forwarded
to the process log (with target and module) when its level is enabled there.

Lines are formatted when they are read (:meth:`ProbeLog.text`, :attr:`ProbeLog.lines`), not
when they are logged: most probes' logs are never read. Only arguments of the immutable
primitive types are kept for later; a line with any other argument (a socket, an exception and
its traceback, a list that may change) is formatted at once, so the log holds no reference to
it and reads as it was when logged.
"""

from __future__ import annotations

import logging
import time
from typing import Any

_PROCESS_LOG = logging.getLogger("chm_exporter.probe")
# Argument types kept unformatted (exact types: a subclass may format differently later).
_KEPT_TYPES = frozenset({str, int, float, bool, type(None)})
_Entry = tuple[float, int, str, tuple[Any, ...]]


class ProbeLog:
    """Collects one probe's log lines; nothing it records may carry a secret."""

    __slots__ = ("_entries", "_start", "module", "target")

    def __init__(self, target: str, module: str) -> None:
        self.target = target
        self.module = module
        self._entries: list[_Entry] = []
        self._start = time.monotonic()

    def _log(self, level: int, msg: str, args: tuple[Any, ...]) -> None:
        elapsed = time.monotonic() - self._start
        if args:
            for arg in args:
                if arg.__class__ not in _KEPT_TYPES:
                    msg, args = msg % args, ()
                    break
        self._entries.append((elapsed, level, msg, args))
        if _PROCESS_LOG.isEnabledFor(level):
            _PROCESS_LOG.log(
                level,
                msg % args if args else msg,
                extra={"probe_target": self.target, "probe_module": self.module},
            )

    def debug(self, msg: str, *args: Any) -> None:
        """Record a debug line."""
        self._log(logging.DEBUG, msg, args)

    def info(self, msg: str, *args: Any) -> None:
        """Record an info line."""
        self._log(logging.INFO, msg, args)

    def warning(self, msg: str, *args: Any) -> None:
        """Record a warning line."""
        self._log(logging.WARNING, msg, args)

    def error(self, msg: str, *args: Any) -> None:
        """Record an error line."""
        self._log(logging.ERROR, msg, args)

    @property
    def lines(self) -> list[str]:
        """The lines so far, formatted: elapsed seconds, level, message."""
        return [
            f"{elapsed:8.4f}s {logging.getLevelName(level):<5} {msg % args if args else msg}"
            for elapsed, level, msg, args in self._entries
        ]

    def text(self) -> str:
        """All lines, one per line."""
        lines = self.lines
        return "\n".join(lines) + ("\n" if lines else "")
