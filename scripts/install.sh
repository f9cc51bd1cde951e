#!/usr/bin/env bash
# Create .venv with the pinned stack (uv when available: seconds; pip otherwise).
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-dev}"
export UV_COMPILE_BYTECODE=1
if ! command -v uv >/dev/null 2>&1; then
  python3 -m pip install --quiet --user uv 2>/dev/null || python3 -m pip install --quiet uv
  export PATH="$HOME/.local/bin:$PATH"
fi
[ -x .venv/bin/python ] || uv venv --quiet --python python3 .venv
uv pip install --quiet --python .venv/bin/python -e ".[${extras}]"
