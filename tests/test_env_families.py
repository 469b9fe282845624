"""One real environment per family the compatibility matrix covers (docs/compatibility.md), trained through
`marl train` for a few hundred steps in the fast tier: SISL (multiwalker, whose state() breaks once a walker has
fallen), MAgent2 (hundreds of agents that die), Butterfly (agents that die, image-free vector observations).
MPE, classic games and LBF/RWARE have their own test files. Each row skips cleanly where the family's package is
not installed (`pip install "marl-advisor[envs]"` installs them all)."""
from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from advisor.cli import app

runner = CliRunner()

# (package to import, env id, env kwargs, algorithm, steps, copies)
ROWS = {
    "sisl-multiwalker-mappo": ("pettingzoo.sisl", "pettingzoo.sisl:multiwalker_v9", [], "mappo", 600, 2),
    "magent2-battle-ippo": ("magent2", "magent2.environments:battle_v4", ["map_size=15", "max_cycles=30"],
                            "ippo", 120, 1),
    "magent2-battle-vdn": ("magent2", "magent2.environments:battle_v4", ["map_size=15", "max_cycles=30"],
                           "vdn", 120, 1),
    "butterfly-kaz-mappo": ("pettingzoo.butterfly", "pettingzoo.butterfly:knights_archers_zombies_v11",
                            ["max_cycles=40"], "mappo", 160, 2),
}


@pytest.mark.parametrize("row", sorted(ROWS))
def test_a_real_env_of_each_family_trains_and_evaluates(row, tmp_path):
    package, env_id, kwargs, algo, steps, copies = ROWS[row]
    pytest.importorskip(package)
    out = tmp_path / "run"
    argv = ["train", algo, "--env", env_id, "--steps", str(steps), "--num-envs", str(copies),
            "--eval-episodes", "1", "--out", str(out)]
    for kwarg in kwargs:
        argv += ["--env-kwarg", kwarg]
    result = runner.invoke(app, argv)
    assert result.exit_code == 0, result.output
    evaluation = json.loads((out / "eval.json").read_text())
    assert evaluation["episodes"] == 1 and evaluation["episode_length"] > 0
    assert (out / "checkpoints" / "latest.pt").exists()

