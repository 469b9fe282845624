"""Factorised discrete actions (MultiDiscrete, MultiBinary): one categorical head per component in the PPO family
(log-probabilities and entropies summed), one straight-through Gumbel head per component in MADDPG, one joint
Discrete for the value learners up to JOINT_ACTION_LIMIT combinations, masks per component, `predict` in the env's
own format, and the advisor's and guard's view of them. Fixtures: tests/fixtures/action_space_envs.py."""
from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
import torch
from torch.distributions import Categorical
from typer.testing import CliRunner

import algorithms
from advisor.cli import app
from advisor.guard import check_fit
from algorithms.core.action_spaces import JOINT_ACTION_LIMIT, JointActions
from algorithms.core.env_registry import make_vec_env
from algorithms.registry import load_run
from tests.fixtures.action_space_envs import HORIZON, FactorisedEnv

runner = CliRunner()
FACTORISED = "tests.fixtures.action_space_envs:factorised_env"
BINARY = "tests.fixtures.action_space_envs:binary_env"
MASKED = "tests.fixtures.action_space_envs:masked_env"
HUGE = "tests.fixtures.action_space_envs:huge_env"
FAST = {"mappo": {"lr": 3e-3, "rollout_steps": 16, "epochs": 4}, "ippo": {"lr": 3e-3, "rollout_steps": 16, "epochs": 4},
        "maddpg": {"learning_starts": 200, "batch_size": 64, "train_every": 8},
        "vdn": {"batch_size": 8, "schedule": "replay"}, "qmix": {"batch_size": 8, "schedule": "replay"}}


def _greedy_reward(algo, env_id: str, env_kwargs: dict | None = None) -> float:
    """Mean per-step reward of the greedy policy over one episode on 8 fresh copies (1 = always the target)."""
    envs = make_vec_env(env_id, env_kwargs or {}, 8)
    step, total = envs.reset(seed=5), 0.0
    for _ in range(HORIZON):
        actions, _ = algo.act(step, algo.initial_memory(8), True)
        step = envs.step(actions)
        total += float(step.reward.mean())
    return total / HORIZON


def _allowed(info, mask: np.ndarray, actions: np.ndarray) -> np.ndarray:
    """[K, N, C] whether each chosen component value is open in the [K, N, action_dim] mask."""
    out = np.zeros(actions.shape, bool)
    for i in range(info.n_agents):
        for c, columns in enumerate(info.component_columns(i)):
            value = actions[:, i, c]
            inside = value < len(columns)
            out[:, i, c] = inside & mask[np.arange(len(value)), i, columns[np.minimum(value, len(columns) - 1)]]
    return out


# ---------------------------------------------------------------------------------------------------
# The env layer


def test_factorised_spaces_are_described_per_component_and_padded():
    info = make_vec_env(FACTORISED, {}, 1).info
    assert (info.action_kind, info.action_components, info.action_dim, info.action_dtype) == \
        ("multi_discrete", (3, 2), 5, "int64")
    binary = make_vec_env(BINARY, {}, 1).info
    assert (binary.action_nvecs, binary.action_components, binary.action_dtype) == (((2, 2, 2),) * 2, (2, 2, 2), "int8")
    masked = make_vec_env(MASKED, {}, 1).info  # agent_1 acts in MultiDiscrete([2, 2]): its third value is padding
    assert masked.action_sizes == (5, 4)
    assert masked.real_actions.tolist() == [[True] * 5, [True, True, False, True, True]]
    with pytest.raises(algorithms.MARLError, match="different numbers of components"):
        make_vec_env(FACTORISED, {"nvecs": [[3, 2], [3]]}, 1)


@pytest.mark.parametrize("masks", ["tuple", "flat"])
def test_per_component_masks_arrive_in_their_components_columns(masks):
    """A tuple of per-component masks and their flat concatenation give the same rows; padding stays closed."""
    envs = make_vec_env(MASKED, {"masks": masks}, 1)
    env = FactorisedEnv(nvecs=((3, 2), (2, 2)), masks=masks)
    env.reset()
    step = envs.reset(seed=0)
    for _ in range(2):
        expected = [np.concatenate(env.component_masks(a)).astype(bool) for a in env.possible_agents]
        assert step.action_mask[0, 0].tolist() == expected[0].tolist()
        assert step.action_mask[0, 1].tolist() == [*expected[1][:2], False, *expected[1][2:]]
        step = envs.step(np.array([[[2, 1], [1, 1]]]))
        env.step({"agent_0": np.array([2, 1]), "agent_1": np.array([1, 1])})


def test_the_joint_mask_is_the_outer_product_and_indices_round_trip():
    info = make_vec_env(MASKED, {}, 1).info
    joint = JointActions(info, "VDN")
    assert joint.size == 6 and joint.real.tolist() == [[True] * 6, [True] * 4 + [False] * 2]
    rng = np.random.default_rng(0)
    mask = rng.random((7, 2, 5)) < 0.6
    flat = joint.mask(mask)
    for k, i in itertools.product(range(7), range(2)):
        columns = info.component_columns(i)
        combos = list(itertools.product(*(range(len(c)) for c in columns)))  # C order: np.ravel_multi_index's
        expected = [all(mask[k, i, col[v]] for col, v in zip(columns, combo)) for combo in combos]
        assert flat[k, i, : len(combos)].tolist() == expected and not flat[k, i, len(combos):].any()
        indices = np.zeros((len(combos), 2), np.int64)
        indices[:, i] = np.arange(len(combos))
        assert [tuple(v) for v in joint.components(indices)[:, i]] == combos  # index -> its components
    assert joint.components(np.array([[5, 3]])).tolist() == [[[2, 1], [1, 1]]]


# ---------------------------------------------------------------------------------------------------
# The PPO family: one categorical head per component


def test_log_prob_and_entropy_are_sums_of_the_per_component_categoricals():
    algo = algorithms.make("mappo", MASKED, num_envs=3, seed=0)
    with torch.no_grad():
        for p in algo.actor.parameters():  # away from the near-uniform start, so the components differ
            p.normal_()
    algo.envs.reset(seed=0)
    step = algo.envs.step(np.array([[[2, 1], [1, 1]]] * 3))  # at odd steps every component has a choice to make
    obs, _, mask, alive = algo._tensors(step)
    assert (mask[..., :3].sum(-1) >= 2).all() and (mask[..., 3:].sum(-1) == 2).all()
    dist, _ = algo.policy(obs, mask, None, alive)
    action = dist.sample()
    assert action.shape == (3, 2, 2) and action.dtype == torch.long
    logits = algo.actor.head(algo.actor.torso(algo._actor_in(obs, alive), None)[0])       # [K, N, 3 + 2]
    log_prob = torch.zeros(3, 2)
    entropy = torch.zeros(3, 2)
    for c, part in enumerate((slice(0, 3), slice(3, 5))):
        by_hand = Categorical(logits=logits[..., part].masked_fill(~mask[..., part], -torch.inf))
        log_prob += by_hand.log_prob(action[..., c])
        p = by_hand.probs
        entropy -= (p * torch.log(p.clamp(min=1e-12)) * mask[..., part]).sum(-1)
    torch.testing.assert_close(dist.log_prob(action), log_prob)
    torch.testing.assert_close(dist.entropy(), entropy)
    assert dist.mode().shape == (3, 2, 2)


@pytest.mark.parametrize("env_id", [FACTORISED, BINARY])
def test_ppo_learns_the_target_combination(env_id):
    """Random play hits the target 1 time in 6 (MultiDiscrete([3, 2])) or 8 (MultiBinary(3))."""
    algo = algorithms.make("mappo", env_id, num_envs=4, seed=0, **FAST["mappo"])
    assert _greedy_reward(algo, env_id) < 0.5
    algo.learn(1200)
    assert _greedy_reward(algo, env_id) >= 0.9


# ---------------------------------------------------------------------------------------------------
# Masks, MADDPG and the value learners


@pytest.mark.parametrize("algo_id", ["ippo", "maddpg", "vdn"])
@pytest.mark.parametrize("masks", ["tuple", "flat"])
def test_masked_and_padded_component_values_are_never_chosen(algo_id, masks):
    algo = algorithms.make(algo_id, MASKED, env_kwargs={"masks": masks}, num_envs=4, seed=0, **FAST[algo_id])
    step = algo.envs.reset(seed=0)
    for _ in range(3 * HORIZON):  # stochastic actions on both step parities (the env raises on a forbidden value)
        for _ in range(10):
            actions, _ = algo.act(step, algo.initial_memory(4), False)
            assert actions.shape == (4, 2, 2) and _allowed(algo.info, step.action_mask, actions).all()
        step = algo.envs.step(actions)
    algo.learn(400)  # training's own sampling goes through the same env, which raises on a forbidden value


@pytest.mark.parametrize("algo_id, env_id", [("maddpg", FACTORISED), ("vdn", FACTORISED), ("qmix", MASKED)])
def test_maddpg_and_value_learners_train_on_factorised_actions(algo_id, env_id):
    algo = algorithms.make(algo_id, env_id, num_envs=4, seed=0, **FAST[algo_id])
    seen = []
    algo.learn(1500, callback=lambda a, m: seen.append(m))
    losses = [v for m in seen for k, v in m.items() if k.startswith("losses/") and np.isfinite(v)]
    assert losses and _greedy_reward(algo, env_id) >= 0.75
    if algo_id != "maddpg":  # the final observation of each stored episode opens every real joint action
        assert algo.replay.episodes[0]["mask"][-1].tolist() == algo.joint.real.tolist()
    else:  # the critics read the concatenated component one-hots: one 1 per component
        action = algo.replay.sample(16)["action"]
        assert action.shape[-1] == 5 and (action[..., :3].sum(-1) == 1).all() and (action[..., 3:].sum(-1) == 1).all()


def test_value_learners_refuse_more_combinations_than_the_limit(tmp_path):
    with pytest.raises(algorithms.MARLError) as caught:
        algorithms.make("vdn", HUGE, num_envs=1)
    err = caught.value
    assert err.code == "too-many-joint-actions" and "1,331" in err.message and f"{JOINT_ACTION_LIMIT:,}" in err.message
    assert "mappo" in err.hint
    result = runner.invoke(app, ["train", "qmix", "--env", HUGE, "--steps", "100", "--out", str(tmp_path / "run")])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and "1,331" in result.output and "mappo" in result.output


# ---------------------------------------------------------------------------------------------------
# predict on the user's own env, the guard, inspection


@pytest.mark.parametrize("algo_id, env_id, env", [("mappo", MASKED, lambda: FactorisedEnv(((3, 2), (2, 2)), masks="tuple")),
                                                  ("vdn", BINARY, lambda: FactorisedEnv(((2, 2, 2),) * 2, binary=True))])
def test_marl_train_then_load_and_predict_steps_the_real_env(algo_id, env_id, env, tmp_path):
    run = tmp_path / "run"
    size = [arg for key, value in FAST[algo_id].items() for arg in ("--set", f"{key}={value}")]
    result = runner.invoke(app, ["train", algo_id, "--env", env_id, "--steps", "400", "--num-envs", "2",
                                 "--eval-episodes", "2", *size, "--out", str(run)])
    assert result.exit_code == 0, result.output
    _, trained = load_run(run)
    trained.save(tmp_path / "policy.pt")
    algo = algorithms.load(tmp_path / "policy.pt")
    env = env()
    obs, _ = env.reset(seed=1)
    played = 0
    while env.agents:  # the env asserts each action's dtype and space, and raises on a masked value
        actions = algo.predict(obs, deterministic=played % 2 == 0)
        for agent, action in actions.items():
            assert isinstance(action, np.ndarray) and action.dtype == env.action_space(agent).dtype
        obs, *_ = env.step(actions)
        played += 1
    assert played == HORIZON


def test_the_guard_and_inspection_know_factorised_actions(tmp_path):
    facts = json.loads(runner.invoke(app, ["inspect", FACTORISED, "--json"]).output)["facts"]
    assert facts["action_space"] == "discrete" and facts["factorised_actions"] is True
    for algo_id in ("mappo", "ippo", "maddpg", "vdn", "qmix"):
        assert not [f for f in check_fit(algo_id, FACTORISED).hard if "factorised" in f.what], algo_id
    refused = check_fit("single_agent", FACTORISED).hard
    assert [f.rule for f in refused] == ["catalogue"] and "factorised_actions" in refused[0].what
    result = runner.invoke(app, ["train", "single_agent", "--env", FACTORISED, "--steps", "100",
                                 "--out", str(tmp_path / "run")])
    assert result.exit_code == 2 and "factorised" in result.output and not (tmp_path / "run").exists()
    with pytest.raises(algorithms.MARLError, match="multi_discrete"):  # the Python API refuses it too
        algorithms.make("single_agent", FACTORISED, num_envs=1)
    listed = {row["id"]: row["action_spaces"] for row in json.loads(runner.invoke(app, ["algorithms", "--json"]).output)}
    assert "multi_discrete" in listed["mappo"] and "multi_discrete" not in listed["nash_q"]
