#!/usr/bin/env bash
# Run the whole test suite; installs whatever is missing first (idempotent).
# Usage: bash scripts/test.sh [pytest args...]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash scripts/setup.sh --quiet
exec .venv/bin/python -m pytest "$@"
