"""Environments that misbehave or speak other conventions: optional state(), envs that raise, masks in info."""
from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

import algorithms
from advisor.cli import app
from algorithms.core.env_registry import make_vec_env
from algorithms.errors import EnvError, MARLError
from tests.fixtures.envs import FragileStateEnv

runner = CliRunner()
FRAGILE = "tests.fixtures.envs:fragile_state_env"
INFO_MASK = "tests.fixtures.envs:info_mask_env"
RAISING = "tests.fixtures.envs:method_raising_env"


def _train(algo_id: str, env: str, steps: int = 120, **overrides):
    algo = algorithms.make(algo_id, env, num_envs=2, seed=0, **overrides)
    algo.learn(steps)
    return algo


def test_state_is_never_called_for_an_algorithm_that_does_not_read_it():
    FragileStateEnv.state_calls = 0
    envs = make_vec_env(FRAGILE, {}, 2)
    calls_to_describe = FragileStateEnv.state_calls
    algo = algorithms.make("ippo", envs)
    algo.begin(envs.reset(seed=0))
    algo.learn(100)
    assert calls_to_describe >= 1 and FragileStateEnv.state_calls == calls_to_describe


def test_state_is_not_asked_for_after_a_terminal_step():
    # MAPPO's critic reads the state; the env's state() raises after the episode terminates (multiwalker_v9).
    FragileStateEnv.state_calls = 0
    algo = _train("mappo", FRAGILE, steps=100)
    assert algo.env_steps >= 100 and FragileStateEnv.state_calls > 20


@pytest.mark.parametrize("algo_id", ["mappo", "ippo", "qmix", "vdn", "iql", "qplex", "maddpg", "commnet"])
def test_masks_sent_in_info_are_obeyed(algo_id):
    # The env raises on a forbidden action, so training only survives if the info masks reach the policy,
    # through epsilon-greedy / sampled exploration (which would otherwise pick action 2 a third of the time).
    algo = _train(algo_id, INFO_MASK, steps=300)
    assert algo.info.has_action_mask
    step = algo.envs.reset(seed=1)
    assert not step.action_mask[:, :, 2].any() and step.action_mask[:, :, :2].all()
    for deterministic in (True, False):
        actions, _ = algo.act(step, algo.initial_memory(2), deterministic)
        actions = np.asarray(actions)
        assert not ((actions.argmax(-1) if actions.ndim == 3 else actions) == 2).any()


@pytest.mark.parametrize("method", ["reset", "state", "render"])
def test_an_env_method_that_raises_is_named(method):
    envs = make_vec_env(RAISING, {"method": method}, 1)
    with pytest.raises(EnvError) as caught:
        if method == "render":
            envs.render()
        else:
            envs.request_state(True)
            envs.reset(seed=0)
            for _ in range(12):
                envs.step(np.zeros((1, 3), np.int64))
    err = caught.value
    assert err.method == method and err.env_id == RAISING and f"{method}()" in err.message
    assert isinstance(err.__cause__, (OSError, ValueError, RuntimeError)) and isinstance(err, MARLError)


def test_a_raising_env_keeps_the_last_checkpoint_and_says_so(tmp_path):
    run = tmp_path / "run"
    # Checkpoints every 4 steps; reset() raises at the second episode end (step 10).
    result = runner.invoke(app, ["train", "ippo", "--env", RAISING, "--env-kwarg", "method=reset", "--steps", "400",
                                 "--num-envs", "1", "--set", "batch_steps=4", "--checkpoint-every", "4",
                                 "--eval-episodes", "1", "--out", str(run)])
    assert result.exit_code == 1, result.output
    assert "[env-raised]" in result.output and "reset()" in result.output and "Traceback" not in result.output
    assert "OSError" in result.output and "latest.pt) is kept" in result.output and "--resume" in result.output
    assert (run / "checkpoints" / "latest.pt").stat().st_size > 0


def test_a_deprecated_pettingzoo_module_names_its_successor():
    pytest.importorskip("pettingzoo.butterfly")
    with pytest.raises(MARLError) as caught:
        make_vec_env("pettingzoo.butterfly:knights_archers_zombies_v10", {}, 1)
    assert caught.value.code == "deprecated-env"
    assert "pettingzoo.butterfly:knights_archers_zombies_v11" in caught.value.hint


@pytest.mark.parametrize("algo_id", ["mappo", "ippo", "commnet", "qmix", "vdn", "iql", "qplex", "maddpg"])
def test_every_family_trains_with_an_agent_leaving_early(algo_id):
    algo = _train(algo_id, "tests.fixtures.envs:early_exit_env", steps=200)
    assert algo.env_steps >= 200


@pytest.mark.parametrize("algo_id", ["qmix", "vdn", "qplex"])
def test_a_dead_agents_actions_do_not_change_the_team_value(algo_id):
    import torch

    from algorithms.core.tensors import to_tensor

    algo = _train(algo_id, "tests.fixtures.envs:early_exit_env", steps=200, batch_size=4, schedule="replay")
    sample = algo.replay.sample(4)
    batch = {k: to_tensor(v, algo.device).transpose(0, 1) for k, v in sample.items()}
    batch["action"] = batch["action"].long()
    dead = ~batch["alive"][:-1].bool()                                   # [T, B, N]
    assert dead.any()
    with torch.no_grad():
        before, _ = algo.td_errors(batch)
        batch["action"] = torch.where(dead, 1 - batch["action"], batch["action"])
        after, _ = algo.td_errors(batch)
    torch.testing.assert_close(before, after)
