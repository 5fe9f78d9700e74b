#!/usr/bin/env bash
# Installs everything (scripts/setup.sh) and runs the whole suite: lint, types, tests.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
echo "== ruff"
.venv/bin/ruff check chm_exporter tests bench scripts dashboards
.venv/bin/ruff format --check chm_exporter tests bench scripts dashboards
echo "== mypy (strict: package, tests, bench, dashboards, scripts)"
.venv/bin/mypy
echo "== pytest"
.venv/bin/pytest -p no:cacheprovider "$@"
