#!/usr/bin/env bash
# Set up (see setup.sh) and run the main job on built-in defaults: ask the advisor about cooperative
# navigation (mpe2 simple_spread, 3 agents), run the train command it prints (its own pick, with the budget its
# catalogue measured: a few minutes here) and evaluate the result beside random play and doing nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
MARL=.venv/bin/marl
ADVICE=(advise --env mpe2:simple_spread_v3 --answers examples/spread_answers.yaml)
$MARL "${ADVICE[@]}"
# The advice's `marl train ...` line, as a list of arguments (STEPS=N overrides its --steps for a shorter run).
mapfile -t TRAIN < <($MARL "${ADVICE[@]}" --json | .venv/bin/python -c '
import json, os, shlex, sys
command = next(c for c in json.load(sys.stdin)["next"]["commands"] if c.startswith("marl train "))
args = shlex.split(command)[1:]
if os.environ.get("STEPS"):
    args[args.index("--steps") + 1] = os.environ["STEPS"]
print("\n".join(args))')
RUN=runs/demo-${TRAIN[1]}-spread-$(date +%Y%m%d-%H%M%S)
echo "running the advisor's train command: marl ${TRAIN[*]} --out $RUN"
$MARL "${TRAIN[@]}" --out "$RUN"
$MARL eval "$RUN" --episodes 64
echo "greedy assignment of agents to landmarks (hand-written, an upper reference): -9.0 per agent (docs/defaults.md)"
