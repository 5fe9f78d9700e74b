"""scripts/fetch_corpus.py rebuilds the corpus the tests read, byte for byte, from its sources.

GitHub is not reachable from the project's machines, so the test serves a mirror of the raw
file server from the corpus itself (``file://``, same URL layout); snmpsim-data comes from the
installed package. What is proven: the manifest names every walk, the sources' paths and the
sha256 check, the fallback source, and that a failed fetch leaves no corpus behind.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.servers.corpus_location import corpus_root

pytestmark = pytest.mark.corpus

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "fetch_corpus.py"
MANIFEST = REPO / "scripts" / "corpus_sources.tsv"


def manifest() -> list[list[str]]:
    lines = MANIFEST.read_text(encoding="utf-8").splitlines()
    return [ln.split("\t") for ln in lines if ln and not ln.startswith(("#", "path\t"))]


def mirror(root: Path, *, use_fallback: bool, corrupt: str | None = None) -> Path:
    """A raw.githubusercontent.com look-alike holding the corpus' GitHub-sourced files."""
    for path, sources, _sha in manifest():
        github = [s for s in sources.split() if s.startswith("github:")]
        if not github:
            continue
        repo_commit, source_path = (
            github[-1 if use_fallback else 0].removeprefix("github:").split(":", 1)
        )
        repo, commit = repo_commit.split("@")
        target = root / repo / commit / source_path
        target.parent.mkdir(parents=True, exist_ok=True)
        data = (corpus_root() / path).read_bytes()
        target.write_bytes(data + b"x" if path == corrupt else data)
    return root


def run_fetch(dest: Path, raw: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), str(dest), "--github-raw", raw.as_uri()],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_the_manifest_names_every_walk_of_the_corpus() -> None:
    listed = sorted(row[0] for row in manifest())
    walks = sorted(
        p.relative_to(corpus_root()).as_posix() for p in corpus_root().rglob("snmprec/**/*.snmprec")
    )
    assert listed == walks


@pytest.mark.parametrize(
    "use_fallback", [False, True], ids=["pinned-snapshot", "upstream-fallback"]
)
def test_fetch_rebuilds_the_walks_byte_for_byte(tmp_path: Path, use_fallback: bool) -> None:
    raw = mirror(tmp_path / "raw", use_fallback=use_fallback)
    result = run_fetch(tmp_path / "corpus", raw)
    assert result.returncode == 0, result.stdout + result.stderr
    for path, _sources, _sha in manifest():
        assert (tmp_path / "corpus" / path).read_bytes() == (corpus_root() / path).read_bytes(), (
            path
        )
    assert "run the tests with CHM_CORPUS=" in result.stdout


def test_a_wrong_file_fails_in_one_line_and_leaves_no_corpus(tmp_path: Path) -> None:
    bad = next(row[0] for row in manifest() if "github:" in row[1])
    raw = mirror(tmp_path / "raw", use_fallback=False, corrupt=bad)
    result = run_fetch(tmp_path / "corpus", raw)
    assert result.returncode == 1
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"fetch_corpus: {bad}: ")
    assert "sha256 differs" in line
    assert not (tmp_path / "corpus" / "snmprec").exists()
    assert list((tmp_path / "corpus").iterdir()) == []
