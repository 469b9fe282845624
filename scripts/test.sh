#!/usr/bin/env bash
# Set up (see setup.sh) and run the whole test suite, one pytest worker per CPU (pytest-xdist): every test is
# seeded and single-threaded, so results do not depend on which worker runs it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python -m pytest -n auto "$@"
