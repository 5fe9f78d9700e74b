"""The one-way layer contract (pyproject.toml, [tool.importlinter]) holds, and it would catch a
transport that imports the profiles engine (the guard can fail)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def _lint(where: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(where)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=where,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_layers_are_kept_and_a_broken_one_is_caught(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "chm_exporter", tmp_path / "chm_exporter")
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    kept = _lint(tmp_path)
    assert kept.returncode == 0, kept.stdout + kept.stderr
    walker = tmp_path / "chm_exporter" / "snmp" / "walker.py"
    walker.write_text(walker.read_text() + "\nfrom chm_exporter.profiles import model  # noqa\n")
    broken = _lint(tmp_path)
    assert broken.returncode != 0
    assert "chm_exporter.snmp is not allowed to import chm_exporter.profiles" in broken.stdout
