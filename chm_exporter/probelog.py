"""A logger per probe: every line is kept for ?debug=true and the landing page, and forwarded
to the process log (with target and module) when its level is enabled there."""

from __future__ import annotations

import logging
import time
from typing import Any

_PROCESS_LOG = logging.getLogger("chm_exporter.probe")


class ProbeLog:
    """Collects one probe's log lines; nothing it records may carry a secret."""

    def __init__(self, target: str, module: str) -> None:
        self.target = target
        self.module = module
        self.lines: list[str] = []
        self._start = time.monotonic()

    def _log(self, level: int, msg: str, args: tuple[Any, ...]) -> None:
        text = msg % args if args else msg
        elapsed = time.monotonic() - self._start
        self.lines.append(f"{elapsed:8.4f}s {logging.getLevelName(level):<5} {text}")
        if _PROCESS_LOG.isEnabledFor(level):
            _PROCESS_LOG.log(
                level, text, extra={"probe_target": self.target, "probe_module": self.module}
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

    def text(self) -> str:
        """All lines, one per line."""
        return "\n".join(self.lines) + ("\n" if self.lines else "")
