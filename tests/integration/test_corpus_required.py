"""Without the device corpus, the tests that need it stop the run at collection in one line
(what is missing, how to fetch it, how to point CHM_CORPUS at a copy); the others still run."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def pytest_run(corpus: Path, *tests: str) -> tuple[subprocess.CompletedProcess[str], float]:
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", *tests],
        cwd=REPO,
        env={**os.environ, "CHM_CORPUS": str(corpus)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return result, time.monotonic() - started


def test_missing_corpus_fails_at_collection_in_one_line(tmp_path: Path) -> None:
    result, seconds = pytest_run(
        tmp_path,
        "tests/integration/test_golden.py",  # marked corpus
        "tests/servers/test_servers.py",  # snmpsim_server
        "tests/unit/test_duration.py",  # needs nothing
    )
    assert result.returncode == 4, result.stdout + result.stderr  # pytest's usage error
    (line,) = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert line.startswith("ERROR: the device corpus is missing")
    assert f"no {tmp_path}/snmprec/" in line
    assert "scripts/fetch_corpus.py" in line
    assert "CHM_CORPUS=" in line
    assert " passed" not in result.stdout
    assert " failed" not in result.stdout
    assert "no tests ran" in result.stdout
    assert seconds < 60, "collection only: nothing may start before the refusal"


def test_tests_that_need_no_corpus_run_without_it(tmp_path: Path) -> None:
    result, _ = pytest_run(tmp_path, "tests/unit/test_duration.py")
    assert result.returncode == 0, result.stdout + result.stderr
    assert " passed" in result.stdout
    assert "corpus" not in result.stderr
