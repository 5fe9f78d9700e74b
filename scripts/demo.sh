#!/usr/bin/env bash
# Installs what the demo needs (scripts/setup.sh) and runs the exporter against simulated
# devices on loopback. Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
exec .venv/bin/python -m scripts.demo "$@"
