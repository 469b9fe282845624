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



@pytest.mark.parametrize("module", ["pettingzoo.butterfly.knights_archers_zombies_v11",
                                    "pettingzoo.sisl.multiwalker_v9"])
def test_the_lean_turn_based_wrapper_steps_exactly_as_pettingzoos(module):
    """Training steps turn-based envs through a wrapper that skips PettingZoo's discarded `last()` call; the
    observations, rewards and flags must be PettingZoo's own, step for step (agents die in KAZ, fall in
    multiwalker)."""
    import importlib

    import numpy as np
    from pettingzoo.utils.conversions import aec_to_parallel

    from algorithms.core.env_registry import make_env

    factory = importlib.import_module(module)
    env_id = module.rpartition(".")[0] + ":" + module.rpartition(".")[2]
    traces = []
    for env in (aec_to_parallel(factory.raw_env(max_cycles=60)), make_env(env_id, {"max_cycles": 60}, checked=False)):
        assert type(env).__name__ == ("_LeanAECToParallel" if traces else "aec_to_parallel_wrapper")
        rng, trace = np.random.default_rng(0), []
        env.reset(seed=1)
        while env.agents:
            actions = {}
            for agent in env.agents:
                space = env.action_space(agent)
                actions[agent] = (int(rng.integers(space.n)) if hasattr(space, "n")
                                  else rng.uniform(space.low, space.high).astype(space.dtype))
            obs, rewards, terminations, truncations, _ = env.step(actions)
            trace.append(([(a, obs[a].tobytes()) for a in sorted(obs)], sorted(rewards.items()),
                          sorted(terminations.items()), sorted(truncations.items())))
        traces.append(trace)
    assert len(traces[0]) > 10 and traces[0] == traces[1]


@pytest.mark.parametrize("env_id,kwargs", [("pettingzoo.butterfly:pistonball_v6", {"continuous": False}),
                                           ("pettingzoo.butterfly:cooperative_pong_v6", {})])
def test_image_envs_that_draw_only_when_rendering_are_seen_moving(env_id, kwargs):
    """PettingZoo's pistonball and cooperative_pong redraw their screen (the observations' and state's source)
    only when a render mode is set; the registry sets one, so what the trainers see changes as the game moves."""
    pytest.importorskip("pettingzoo.butterfly")
    import numpy as np

    from algorithms.core.env_registry import make_vec_env

    envs = make_vec_env(env_id, kwargs, 1)
    first = envs.reset(seed=0)
    start_obs, start_state = first.obs.copy(), first.state.copy()
    rng = np.random.default_rng(0)
    for _ in range(15):
        step = envs.step(rng.integers(0, envs.info.action_dim, (1, envs.info.n_agents)))
    assert not np.array_equal(step.obs, start_obs), "the observations never change: the env is not drawn"
    assert not np.array_equal(step.state, start_state)  # state() is the same screen
    envs.close()
