"""What an env returns is checked where it enters the library (core/pettingzoo_vec_env.py, envs/gymma.py): a NaN or
infinite reward or observation, an observation that does not fit its declared space, an action mask of the wrong
length, a reward that is not a number. Each stops with one EnvOutputError naming the env, the agent, the step and the
episode and what was wrong, before any network trains on it; `marl train` prints one message, exits 1 and keeps
the checkpoint written before the bad step. Fixtures: tests/fixtures/space_envs.py."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

import algorithms
from advisor.cli import app
from algorithms.core.env_registry import make_vec_env
from algorithms.errors import EnvError, EnvOutputError, MARLError
from algorithms.registry import load_run

runner = CliRunner()
FAULTY = "tests.fixtures.space_envs:faulty_env"
FAULTY_AEC = "tests.fixtures.space_envs:faulty_aec_env"
FAULTY_IMAGE = "tests.fixtures.space_envs:faulty_image_env"
FAULTY_GYMMA = "gymma:tests.fixtures.space_envs:MarlAdvisorFaultyTuple-v0"
PROBLEMS = {  # fault -> what the message says about agent_1's output
    "nan_reward": "a NaN reward",
    "inf_reward": "a +inf reward",
    "inf_obs": "an observation with +inf at position 1 of 3",
    "nan_obs": "an observation with NaN at position 1 of 3",
    "wrong_shape": "an observation of shape (4,) where its space Box(3,) declares (3,)",
    "mask_length": "an action mask of 2 entries where its action space has 3 actions",
    "text_reward": "a reward of 'high' (a str), not a number",
}


def _finite_weights(algo) -> bool:
    modules = [m for m in vars(algo).values() if isinstance(m, torch.nn.Module)]
    return bool(modules) and all(torch.isfinite(p).all() for m in modules for p in m.parameters())


def _weights(algo) -> list[torch.Tensor]:
    return [p.detach().clone() for m in vars(algo).values() if isinstance(m, torch.nn.Module) for p in m.parameters()]


def _step_until_error(env_id: str, kwargs: dict, steps: int = 40) -> EnvOutputError:
    envs = make_vec_env(env_id, kwargs, 2)
    with pytest.raises(EnvOutputError) as caught:
        envs.reset(seed=0)
        for _ in range(steps):
            envs.step(np.zeros((2, envs.info.n_agents), np.int64))
    return caught.value


@pytest.mark.parametrize("obs", ["box", "dict"])  # the vectorised rows (masks in info) and the per-agent ones
@pytest.mark.parametrize("fault", sorted(PROBLEMS))
def test_a_bad_output_names_the_env_agent_step_and_episode(fault, obs):
    # 5 steps per episode: the 7th step() of copy 0's env is step 2 of its second episode.
    err = _step_until_error(FAULTY, {"fault": fault, "fail_at": 7, "obs": obs})
    assert isinstance(err, EnvError) and isinstance(err, MARLError) and err.code == "bad-env-output"
    assert (err.env_id, err.agent, err.method, err.episode_step, err.episode, err.copy) == \
        (FAULTY, "agent_1", "step", 2, 2, 0)
    assert err.message == (f"'{FAULTY}' step() at step 2 of episode 2 (env copy 0) returned, for agent 'agent_1', "
                           f"{PROBLEMS[fault]}")


@pytest.mark.parametrize("obs", ["box", "dict"])
@pytest.mark.parametrize("fail_at, method, step, episode", [(0, "reset", 0, 1), (5, "step", 5, 1), (10, "step", 5, 2)])
def test_the_step_and_episode_are_those_of_the_bad_output_across_auto_resets(fail_at, method, step, episode, obs):
    # fail_at 0: the first reset; 5 and 10: the last step of an episode (its final observation), whose copy was
    # reset straight after (the reset's own rows are broken too, but come later).
    err = _step_until_error(FAULTY, {"fault": "inf_obs", "fail_at": fail_at, "obs": obs})
    assert (err.agent, err.method, err.episode_step, err.episode) == ("agent_1", method, step, episode)
    when = "at the start of episode 1" if method == "reset" else f"at step {step} of episode {episode}"
    assert f"{method}() {when} (env copy 0) returned, for agent 'agent_1', an observation with +inf" in err.message


@pytest.mark.parametrize("fault", ["nan_reward", "inf_obs", "wrong_shape", "mask_length", "text_reward"])
def test_a_turn_based_env_is_checked_too(fault):
    err = _step_until_error(FAULTY_AEC, {"fault": fault, "fail_at": 7})
    assert (err.agent, err.method, err.episode) == ("agent_1", "step", 2) and PROBLEMS[fault] in err.message


def test_an_observation_whose_dtype_does_not_cast_to_the_declared_one_is_named():
    err = _step_until_error(FAULTY_IMAGE, {"fail_at": 3})
    assert err.agent == "agent_0" and (err.episode_step, err.episode) == (3, 1)
    assert "an observation of dtype float64, which does not cast to the uint8 of Box(6, 6, 3)" in err.message


@pytest.mark.parametrize("fault, problem, agent", [("nan_reward", "a NaN reward", "agent_1"),
                                                   ("reward_count", "1 rewards for its 2 agents", None)])
def test_gymma_envs_are_checked(fault, problem, agent):
    err = _step_until_error(FAULTY_GYMMA, {"fault": fault, "fail_at": 6})
    assert (err.agent, err.episode_step, err.episode) == (agent, 2, 2) and problem in err.message


def test_nothing_trains_on_the_bad_step():
    algo = algorithms.make("mappo", FAULTY, env_kwargs={"fault": "nan_reward", "fail_at": 30}, num_envs=1, seed=0,
                           rollout_steps=8)
    seen = []
    with pytest.raises(EnvOutputError):
        algo.learn(400, lambda a, metrics: seen.append(_weights(a)))
    # Three iterations of 8 steps each ended before step 30; the fourth rollout stopped at the NaN, before its update.
    assert algo.env_steps == 24 and algo.iterations == len(seen) == 3 and _finite_weights(algo)
    assert all(torch.equal(now, then) for now, then in zip(_weights(algo), seen[-1]))


@pytest.mark.parametrize("fault", ["nan_reward", "inf_obs", "wrong_shape", "mask_length"])
def test_marl_train_stops_with_one_message_and_keeps_the_last_checkpoint(fault, tmp_path):
    run = tmp_path / "run"
    # Checkpoints every 4 steps; the 23rd step() (step 3 of episode 5) returns the bad output.
    result = runner.invoke(app, ["train", "ippo", "--env", FAULTY, "--env-kwarg", f"fault={fault}",
                                 "--env-kwarg", "fail_at=23", "--steps", "400", "--num-envs", "1",
                                 "--set", "batch_steps=4", "--checkpoint-every", "4", "--eval-episodes", "1",
                                 "--out", str(run)])
    out = " ".join(result.output.split())
    assert result.exit_code == 1, result.output
    assert out.count("error [bad-env-output]") == 1 and "Traceback" not in out and "Warning" not in out
    assert (f"'{FAULTY}' step() at step 3 of episode 5 (env copy 0) returned, for agent 'agent_1', "
            f"{PROBLEMS[fault]} (training had taken 20 env steps)") in out
    assert "latest.pt) is kept" in out and "--resume" in out and "nothing was trained on the bad output" in out
    spec, algo = load_run(run)  # the checkpoint written before the bad step loads whole
    assert algo.env_steps == 20 and _finite_weights(algo)


def test_marl_inspect_counts_the_non_finite_rewards_it_saw():
    result = runner.invoke(app, ["inspect", FAULTY, "--env-kwarg", "fault=nan_reward", "--env-kwarg", "fail_at=23",
                                 "--json"])
    assert result.exit_code == 0 and "Warning" not in result.output, result.output
    rewards = json.loads(result.output)["evidence"]["rewards"]
    assert rewards["non_finite_steps"] == 1 and all(np.isfinite(list(rewards["mean_per_step"].values())))


def test_well_behaved_envs_are_not_stopped():
    envs = make_vec_env("mpe2:simple_spread_v3", {"max_cycles": 5}, 2)
    envs.reset(seed=0)
    for _ in range(12):
        envs.step(np.random.default_rng(0).integers(5, size=(2, 3)))
    envs = make_vec_env(FAULTY, {"fault": "nan_reward", "fail_at": 10**6}, 2)
    envs.reset(seed=0)
    for _ in range(12):
        envs.step(np.zeros((2, 2), np.int64))


def test_predict_refuses_non_finite_and_wrong_size_observations():
    algo = algorithms.make("ippo", FAULTY, num_envs=1, seed=0)
    good = {"agent_0": np.zeros(3, np.float32), "agent_1": np.ones(3, np.float32)}
    assert set(algo.predict(good)) == {"agent_0", "agent_1"}
    for bad, needle in [({**good, "agent_1": np.array([0, np.nan, 0], np.float32)}, "NaN or infinite"),
                        ({**good, "agent_1": np.zeros(4, np.float32)}, "(4 values) where Box(3,) declares 3")]:
        with pytest.raises(MARLError) as caught:
            algo.predict(bad)
        assert caught.value.code == "bad-observation" and "agent 'agent_1'" in caught.value.message
        assert needle in caught.value.message
