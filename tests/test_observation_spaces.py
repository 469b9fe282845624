"""Tuple and nested Dict observations become rows by gymnasium.spaces.flatten (Discrete parts one-hot), the same way
in training and in `predict`; a Dict's action_mask stays the mask; `marl inspect` names the spaces and their flat
size; spaces with no fixed-size form (Sequence, Graph, Text) are refused with one message. Fixtures:
tests/fixtures/space_envs.py."""
from __future__ import annotations

import json

import numpy as np
import pytest
from gymnasium import spaces
from typer.testing import CliRunner

import algorithms
from advisor.cli import app
from algorithms.core.env_registry import make_vec_env
from algorithms.core.observation_rows import single_step
from algorithms.registry import load_run
from tests.fixtures.space_envs import NestedDictEnv, TupleObsEnv

runner = CliRunner()
TUPLE = "tests.fixtures.space_envs:tuple_obs_env"
NESTED = "tests.fixtures.space_envs:nested_dict_env"
UNFLATTENABLE = "tests.fixtures.space_envs:unflattenable_env"
GYMMA_TUPLE = "gymma:tests.fixtures.space_envs:MarlAdvisorFaultyTuple-v0"
LAYOUTS = [(TUPLE, TupleObsEnv, {}), (NESTED, NestedDictEnv, {"layout": "observation"}),
           (NESTED, NestedDictEnv, {"layout": "keys"})]


def _expected_row(space: spaces.Space, raw) -> np.ndarray:
    """gymnasium's own flatten of the observation, the action mask left out."""
    if isinstance(space, spaces.Dict) and "action_mask" in space.spaces:
        if "observation" in space.spaces:
            return spaces.flatten(space["observation"], raw["observation"])
        return np.concatenate([spaces.flatten(s, raw[k]) for k, s in space.spaces.items() if k != "action_mask"])
    return spaces.flatten(space, raw)


@pytest.mark.parametrize("env_id, cls, kwargs", LAYOUTS)
def test_rows_are_gymnasiums_flatten_of_the_raw_observation_in_training_and_predict(env_id, cls, kwargs):
    envs = make_vec_env(env_id, kwargs, 2)
    env = cls(**kwargs)  # the same seed as copy 0 of the batch: the same observations
    raw, _ = env.reset(seed=5)
    step = envs.reset(seed=5)
    for _ in range(3):
        for i, agent in enumerate(env.possible_agents):
            space = env.observation_space(agent)
            expected = _expected_row(space, raw[agent])
            assert envs.info.obs_sizes[i] == expected.size == spaces.flatdim(space) - (
                spaces.flatdim(space["action_mask"]) if isinstance(space, spaces.Dict) else 0)
            np.testing.assert_array_equal(step.obs[0, i], expected.astype(np.float32))  # training's rows
            if isinstance(raw[agent], dict):  # the Dict's action_mask is the mask, not observation
                np.testing.assert_array_equal(step.action_mask[0, i], raw[agent]["action_mask"].astype(bool))
        predicted = single_step(envs.info, raw)  # predict's rows: the same encoding
        np.testing.assert_array_equal(predicted.obs[0], step.obs[0])
        np.testing.assert_array_equal(predicted.action_mask[0], step.action_mask[0])
        actions = {a: int(np.flatnonzero(step.action_mask[0, i])[0]) for i, a in enumerate(env.possible_agents)}
        raw, *_ = env.step(actions)
        step = envs.step(np.array([[actions[a] for a in env.possible_agents]] * 2))


def test_discrete_parts_are_one_hot_and_a_gymma_tuple_env_flattens_too():
    step = make_vec_env(TUPLE, {}, 1).reset(seed=3)
    env = TupleObsEnv()
    raw, _ = env.reset(seed=3)
    for i, agent in enumerate(env.possible_agents):
        box, phase = raw[agent]
        np.testing.assert_array_equal(step.obs[0, i], np.concatenate([box, np.eye(4)[phase]]).astype(np.float32))
    gymma = make_vec_env(GYMMA_TUPLE, {}, 1)  # per-agent Tuple(Box(2,), Discrete(3)) inside the env's Tuple
    assert gymma.info.obs_sizes == (5, 5)
    np.testing.assert_array_equal(gymma.reset(seed=0).obs[0], [[0, 0, 1, 0, 0], [0, 1, 1, 0, 0]])


@pytest.mark.parametrize("algo_id", ["mappo", "qmix"])
@pytest.mark.parametrize("env_id, cls, kwargs", [LAYOUTS[0], LAYOUTS[2]])
def test_composite_observations_train_from_the_cli_and_a_loaded_policy_plays_the_real_env(
        algo_id, env_id, cls, kwargs, tmp_path):
    run = tmp_path / "run"
    extra = [arg for key, value in kwargs.items() for arg in ("--env-kwarg", f"{key}={value}")]
    size = ["--set", "rollout_steps=8"] if algo_id == "mappo" else ["--set", "batch_size=4"]
    result = runner.invoke(app, ["train", algo_id, "--env", env_id, *extra, "--steps", "160", "--num-envs", "2",
                                 "--eval-episodes", "2", *size, "--out", str(run)])
    assert result.exit_code == 0, result.output
    assert json.loads((run / "eval.json").read_text())["env_steps"] >= 160
    _, trained = load_run(run)
    trained.save(tmp_path / "policy.pt")
    algo = algorithms.load(tmp_path / "policy.pt")  # README's Python API, on the env as users build it
    env = cls(**kwargs)
    obs, _ = env.reset(seed=1)
    played = 0
    while env.agents:  # the nested Dict env raises on a masked action: the mask reached the policy
        actions = algo.predict(obs, deterministic=played % 2 == 0)
        assert set(actions) == set(env.agents) and all(0 <= int(a) < 3 for a in actions.values())
        obs, *_ = env.step(actions)
        played += 1
    assert played >= 6


@pytest.mark.parametrize("env_id, kwargs, needle", [
    (TUPLE, {}, "Tuple(Box(3,), Discrete(4)) -> 7 flat values"),
    (NESTED, {"layout": "keys"}, "Dict(action_mask: MultiBinary(3), pos: Box(2,), status: Dict(flags: "
                                 "MultiBinary(2), level: Discrete(3))) -> 7 flat values and the action mask"),
])
def test_marl_inspect_names_the_observation_spaces_and_their_flat_size(env_id, kwargs, needle, monkeypatch):
    from advisor.console import console
    monkeypatch.setattr(console, "width", 250)  # the Agents table unwrapped, whatever terminal runs the tests
    extra = [arg for key, value in kwargs.items() for arg in ("--env-kwarg", f"{key}={value}")]
    result = runner.invoke(app, ["inspect", env_id, *extra, "--max-seconds", "0.2", "--json"])
    assert result.exit_code == 0, result.output
    evidence = json.loads(result.output)["evidence"]
    assert {s["observation_flat"] for s in evidence["spaces"].values()} == {needle}
    table = runner.invoke(app, ["inspect", env_id, *extra, "--max-seconds", "0.2"])  # the Agents table
    assert table.exit_code == 0 and "Traceback" not in table.output
    assert needle.split(" -> ")[0][:24] in table.output and "-> 7 flat" in table.output


@pytest.mark.parametrize("kind, nested, shown", [("sequence", False, "Sequence(Box(2,))"),
                                                 ("graph", True, "Tuple(Box(2,), Graph(Box(2,), Discrete(2)))"),
                                                 ("text", True, "Tuple(Box(2,), Text(1..8 characters))")])
def test_a_space_with_no_fixed_size_is_refused_with_one_message(kind, nested, shown, tmp_path):
    run = tmp_path / "run"
    result = runner.invoke(app, ["train", "mappo", "--env", UNFLATTENABLE, "--env-kwarg", f"kind={kind}",
                                 "--env-kwarg", f"nested={str(nested).lower()}", "--steps", "50", "--out", str(run)])
    assert result.exit_code == 2, result.output
    assert result.output.count("error [unsupported-observation-space]") == 1 and "Traceback" not in result.output
    assert f"agent 'agent_0' observes {shown}, which cannot be flattened" in " ".join(result.output.split())
    assert not run.exists()
    inspected = runner.invoke(app, ["inspect", UNFLATTENABLE, "--env-kwarg", f"kind={kind}",
                                    "--env-kwarg", f"nested={str(nested).lower()}", "--max-seconds", "0.2", "--json"])
    assert inspected.exit_code == 0, inspected.output  # inspecting it still works, and says why training cannot
    assert "cannot be flattened" in json.loads(inspected.output)["evidence"]["spaces"]["agent_0"]["observation_flat"]
