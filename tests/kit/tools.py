"""Run the kit's binaries (promtool, amtool, prometheus, prometheus-alertmanager).

A missing binary fails the test with the Debian package to install; it never skips.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

#: binary -> the Debian 12 package that ships it
PACKAGES = {
    "promtool": "prometheus",
    "prometheus": "prometheus",
    "amtool": "prometheus-alertmanager",
    "prometheus-alertmanager": "prometheus-alertmanager",
}


def binary(name: str) -> str:
    """Return the path of a kit binary, or fail the test naming the package to install."""
    path = shutil.which(name)
    if path is None:
        package = PACKAGES[name]
        pytest.fail(
            f"{name} is not installed: apt-get install --no-install-recommends {package}"
            " (scripts/setup.sh installs it)",
            pytrace=False,
        )
    return path


def run(name: str, *args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run a kit binary and return its result (stdout and stderr as text); never raises."""
    return subprocess.run(
        [binary(name), *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def output(result: subprocess.CompletedProcess[str]) -> str:
    """Both streams of a result, for assertion messages."""
    return f"exit {result.returncode}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
