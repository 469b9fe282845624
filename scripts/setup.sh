#!/usr/bin/env bash
# Set up .venv with everything MARL Advisor needs, from the project's own files. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv"
  "$PYTHON" -m venv .venv
fi
PIP=(.venv/bin/python -m pip --disable-pip-version-check -q)
# torch first, pinned: on this project's CPU machines 2.13.0 is a CPU wheel on local disk, while an
# unpinned torch would pull a multi-GB CUDA build. pyproject.toml itself keeps a normal range (torch>=2.3).
if ! .venv/bin/python -c "import torch" 2>/dev/null; then
  echo "setup: installing torch==2.13.0"
  "${PIP[@]}" install "torch==2.13.0"
fi
echo "setup: installing marl-advisor and its dependencies"
# envs: Level-Based Foraging and the Multi-Robot Warehouse, which tests/test_gymma.py exercises.
"${PIP[@]}" install -e ".[test,envs,ray]"
