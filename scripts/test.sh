#!/usr/bin/env bash
# Installs everything (scripts/setup.sh) and runs the whole suite: lint, types, tests.
# The device corpus is $CHM_CORPUS, else ../shared/corpus; when neither holds it, it is fetched
# (scripts/fetch_corpus.py, needs internet) into $CHM_CORPUS or ~/.cache/chm-corpus. If that
# fails, pytest stops at collection with one line saying what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
echo "== ruff"
.venv/bin/ruff check chm_exporter tests bench scripts dashboards
.venv/bin/ruff format --check chm_exporter tests bench scripts dashboards
echo "== mypy (strict: package, tests, bench, dashboards, scripts)"
.venv/bin/mypy
echo "== import-linter (one-way layers, pyproject.toml [tool.importlinter])"
.venv/bin/lint-imports
if [ -z "${CHM_CORPUS:-}" ] && [ ! -d ../shared/corpus/snmprec ]; then
  export CHM_CORPUS="${XDG_CACHE_HOME:-$HOME/.cache}/chm-corpus"
fi
if [ -n "${CHM_CORPUS:-}" ] && [ ! -d "$CHM_CORPUS/snmprec" ]; then
  echo "== device corpus: fetching into $CHM_CORPUS (scripts/fetch_corpus.py)"
  .venv/bin/python scripts/fetch_corpus.py "$CHM_CORPUS" || true
fi
echo "== pytest${CHM_CORPUS:+ (CHM_CORPUS=$CHM_CORPUS)}"
.venv/bin/pytest -p no:cacheprovider "$@"
