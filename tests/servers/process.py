"""Child processes the tests, the demo and the benchmarks start: the exporter's command line,
and stopping a child without leaving it behind."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

__all__ = ["exporter_command", "stop_process"]


def exporter_command(config: Path, listen_address: str, *flags: str) -> list[str]:
    """The command that runs this checkout's exporter with `config` on `listen_address`."""
    return [
        sys.executable,
        "-m",
        "chm_exporter",
        "--config.file",
        str(config),
        "--web.listen-address",
        listen_address,
        *flags,
    ]


def stop_process(process: subprocess.Popen[Any] | None, timeout: float) -> None:
    """Terminate `process` and wait for it; kill it when it is still there after `timeout`."""
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
