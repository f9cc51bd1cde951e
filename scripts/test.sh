#!/usr/bin/env bash
# The README's test command: install, lint, then pytest (unit + integration).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh dev
export DO_NOT_TRACK=1
.venv/bin/ruff check python tests benchmarks
.venv/bin/mypy
.venv/bin/python -m pytest -q "$@"
