"""Gymnasium multi-agent envs by EPyMARL's convention (algorithms/envs/gymma.py): Level-Based Foraging and the
Multi-Robot Warehouse as PettingZoo envs, their step limit as a truncation, info action masks, checkpoints,
the env ids in the registry, and `marl train / inspect / advise` on LBF."""
from __future__ import annotations

import json
import pickle
import sys

import gymnasium
import numpy as np
import pytest
from typer.testing import CliRunner

pytest.importorskip("lbforaging", reason="lbforaging is not installed (pip install \"marl-advisor[envs]\")")
pytest.importorskip("rware", reason="rware is not installed (pip install \"marl-advisor[envs]\")")

from advisor.cli import app  # noqa: E402
from advisor.inspect import RolloutBudget, inspect_env  # noqa: E402
from algorithms.core.env_registry import make_env, make_vec_env  # noqa: E402
from algorithms.errors import MARLError  # noqa: E402

LBF = "lbforaging:Foraging-8x8-2p-2f-coop-v3"
RWARE = "rware:rware-tiny-2ag-v2"
NONE, LOAD = 0, 5  # LBF actions
runner = CliRunner()


def _legal_actions(infos: dict, rng: np.random.Generator) -> dict:
    return {a: int(rng.choice(np.flatnonzero(info["action_mask"]))) for a, info in infos.items()}


def _one_food_next_to_agent_0(env) -> None:
    """Drive LBF's state: one level-1 food at (3, 3), agent_0 (level 1) beside it, agent_1 far away."""
    raw = env.gym_env.unwrapped
    raw.field[:] = 0
    raw.field[3, 3] = 1
    raw._food_spawned = 1
    raw.players[0].position, raw.players[0].level = (3, 2), 1
    raw.players[1].position = (6, 6)
    raw._gen_valid_moves()


# --- The wrapper ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("env_id, obs_size, n_actions", [(LBF, 12, 6), (RWARE, 71, 5)])
def test_agents_spaces_and_float32_observations(env_id, obs_size, n_actions):
    env = make_env(env_id)
    obs, infos = env.reset(seed=0)
    assert env.possible_agents == env.agents == ["agent_0", "agent_1"]
    for agent in env.possible_agents:
        assert env.observation_space(agent).shape == (obs_size,) and env.observation_space(agent).dtype == np.float32
        assert env.action_space(agent) == gymnasium.spaces.Discrete(n_actions)
        assert obs[agent].dtype == np.float32 and env.observation_space(agent).contains(obs[agent])
    with pytest.raises(NotImplementedError):  # no state(): trainers use the concatenated observations
        env.state()
    again, _ = env.reset(seed=0)  # reset(seed=...) seeds the Gymnasium env
    other, _ = env.reset(seed=1)
    assert all(np.array_equal(obs[a], again[a]) for a in obs) and any(not np.array_equal(obs[a], other[a]) for a in obs)


def test_reward_list_becomes_per_agent_floats_and_a_real_ending_terminates():
    env = make_env(LBF, {"max_num_food": 1})
    env.reset(seed=0)
    _one_food_next_to_agent_0(env)
    _, rewards, terms, truncs, _ = env.step({"agent_0": LOAD, "agent_1": NONE})
    assert rewards == {"agent_0": 1.0, "agent_1": 0.0} and all(type(r) is float for r in rewards.values())
    assert all(terms.values()) and not any(truncs.values()) and env.agents == []


@pytest.mark.parametrize("last_action, ended", [(LOAD, True), (NONE, False)])
def test_lbf_at_its_step_limit_truncates_unless_all_food_was_eaten(last_action, ended):
    env = make_env(LBF, {"max_num_food": 1})
    env.reset(seed=0)
    _one_food_next_to_agent_0(env)
    assert env.step_limit == 50
    for _ in range(49):
        _, _, terms, truncs, _ = env.step({"agent_0": NONE, "agent_1": NONE})
        assert not any(terms.values()) and not any(truncs.values())
    _, rewards, terms, truncs, _ = env.step({"agent_0": last_action, "agent_1": NONE})
    assert all(terms.values()) is ended and all(truncs.values()) is not ended and env.agents == []
    assert rewards["agent_0"] == (1.0 if ended else 0.0)


def test_lbf_random_play_is_truncated_at_50_steps():
    env = make_env(LBF)
    _, infos = env.reset(seed=1)
    rng = np.random.default_rng(0)
    steps = 0
    while env.agents:
        _, _, terms, truncs, infos = env.step(_legal_actions(infos, rng))
        steps += 1
    assert steps == 50 and env.gym_env.unwrapped.field.any()  # food left: the limit ended it
    assert not any(terms.values()) and all(truncs.values())


def test_rware_at_its_step_limit_is_truncated():
    env = make_env(RWARE, {"max_steps": 10})
    env.reset(seed=0)
    for step in range(1, 11):
        _, rewards, terms, truncs, _ = env.step({a: 0 for a in env.agents})
        assert all(type(r) is float for r in rewards.values())
        assert not any(terms.values()) and all(truncs.values()) is (step == 10)
    assert env.agents == []


def test_gymnasium_time_limit_passes_through_as_truncation():
    env = make_env(LBF, {"max_episode_steps": 5})  # gymnasium.make's TimeLimit, not LBF's own counter
    env.reset(seed=0)
    for _ in range(5):
        _, _, terms, truncs, _ = env.step({a: NONE for a in env.agents})
    assert env.step_limit == 5 and not any(terms.values()) and all(truncs.values())


def test_info_masks_match_get_valid_actions():
    env = make_env(LBF)
    raw = env.gym_env.unwrapped
    _, infos = env.reset(seed=2)
    rng = np.random.default_rng(2)
    for _ in range(30):
        joint = raw.get_valid_actions()  # LBF: the product of the players' legal actions, as Action enums
        for i, agent in enumerate(env.possible_agents):
            mask = infos[agent]["action_mask"]
            assert mask.dtype == np.int8 and mask.shape == (6,)
            assert set(np.flatnonzero(mask)) == {t[i].value for t in joint}
        _, _, _, _, infos = env.step(_legal_actions(infos, rng))


def test_pickled_env_continues_the_same_episode():
    env = make_env(LBF)
    _, infos = env.reset(seed=3)
    rng = np.random.default_rng(3)
    for _ in range(10):
        _, _, _, _, infos = env.step(_legal_actions(infos, rng))
    copy = pickle.loads(pickle.dumps(env))
    while env.agents:  # to the step limit
        actions = _legal_actions(infos, rng)
        a, b = env.step(actions), copy.step(actions)
        infos = a[4]
        for x, y in zip(a, b):
            assert x.keys() == y.keys()
            for agent in x:
                np.testing.assert_equal(x[agent], y[agent])
    assert env.agents == copy.agents == [] and copy.steps == 50


class _SharedRewardToy(gymnasium.Env):
    """Two agents, float64 observations, one shared reward, a done flag per agent, `get_avail_actions` masks,
    and a `max_steps` limit it reports as termination: the generic paths of the wrapper."""

    max_steps = 4

    def __init__(self):
        box = gymnasium.spaces.Box(-1.0, 1.0, (2,), np.float64)
        self.observation_space = gymnasium.spaces.Tuple((box, box))
        self.action_space = gymnasium.spaces.Tuple((gymnasium.spaces.Discrete(3), gymnasium.spaces.Discrete(3)))
        self.t = 0

    def reset(self, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return (np.zeros(2), np.ones(2)), {}

    def step(self, actions):
        self.t += 1
        return (np.zeros(2), np.ones(2)), 0.5, [self.t >= 4] * 2, False, {}

    def get_avail_actions(self):
        return [[1, 1, 0], [0, 1, 1]]


def test_generic_tuple_env_shared_reward_avail_actions_and_limit():
    if "MarlAdvisorToy-v0" not in gymnasium.registry:
        gymnasium.register("MarlAdvisorToy-v0", entry_point=_SharedRewardToy)
    env = make_env("gymma:MarlAdvisorToy-v0")
    assert env.observation_space("agent_1").dtype == np.float32
    obs, infos = env.reset(seed=0)
    assert obs["agent_1"].dtype == np.float32
    assert infos["agent_0"]["action_mask"].tolist() == [1, 1, 0] and infos["agent_1"]["action_mask"].tolist() == [0, 1, 1]
    for _ in range(4):
        _, rewards, terms, truncs, _ = env.step({"agent_0": 0, "agent_1": 2})
        assert rewards == {"agent_0": 0.5, "agent_1": 0.5}
    assert env.step_limit == 4 and not any(terms.values()) and all(truncs.values()) and env.agents == []


# --- Batched, checkpointed ---------------------------------------------------------------------------


def test_make_vec_env_steps_with_masks_and_truncates_at_the_limit():
    envs = make_vec_env(LBF, {}, 2)
    assert envs.info.n_agents == 2 and envs.info.action_kind == "discrete" and envs.info.action_sizes == (6, 6)
    assert envs.info.has_action_mask and envs.info.state_source == "concatenated observations"
    step = envs.reset(seed=0)
    rng = np.random.default_rng(0)
    for t in range(1, 51):
        actions = np.array([[rng.choice(np.flatnonzero(m)) for m in copy] for copy in step.action_mask])
        step = envs.step(actions)
        assert step.obs.shape == (2, 2, 12) and step.obs.dtype == np.float32
        assert not step.terminated.any() or t < 50
    assert step.episode_end.all() and step.truncated.all() and not step.terminated.any()


def test_lbf_episode_starts_do_not_depend_on_how_the_last_episode_ended():
    """Evaluation compares a policy with random play on the same episodes: two different players of the
    same seeded LBF copies must see the same starts (upstream LBF avoids the last episode's positions)."""
    def starts(policy_seed: int) -> list[np.ndarray]:
        envs = make_vec_env(LBF, {}, 2)
        step = envs.reset(seed=7)
        rng, seen = np.random.default_rng(policy_seed), [step.obs.copy()]
        for _ in range(160):
            step = envs.step(np.array([[rng.choice(np.flatnonzero(m)) for m in copy] for copy in step.action_mask]))
            if step.episode_end.any():
                seen.append(step.obs.copy())
        return seen
    a, b = starts(0), starts(1)
    assert len(a) == len(b) == 4 and all(np.array_equal(x, y) for x, y in zip(a, b))


@pytest.mark.parametrize("env_id, kwargs", [(LBF, {}), (RWARE, {"max_steps": 30})])
def test_vec_env_snapshot_restores_into_a_fresh_env_and_continues_identically(env_id, kwargs):
    envs = make_vec_env(env_id, kwargs, 2)
    envs.reset(seed=4)
    rng = np.random.default_rng(4)
    n_actions = envs.info.action_sizes[0]
    for _ in range(20):
        envs.step(rng.integers(n_actions, size=(2, 2)))
    blob = envs.snapshot()
    assert blob is not None
    plan = rng.integers(n_actions, size=(60, 2, 2))  # past the episode ends: the auto-reset continues too
    first = [envs.step(a) for a in plan]
    fresh = make_vec_env(env_id, kwargs, 2)
    fresh.restore(blob)
    again = [fresh.step(a) for a in plan]
    assert sum(s.episode_end.sum() for s in first) >= 2
    for x, y in zip(first, again):
        for field in ("obs", "action_mask", "reward", "terminated", "truncated", "episode_end"):
            np.testing.assert_array_equal(getattr(x, field), getattr(y, field), err_msg=field)


# --- Registry and errors -------------------------------------------------------------------------------


def test_gymma_prefix_takes_module_colon_id_and_any_registered_id():
    env = make_env("gymma:lbforaging:Foraging-8x8-2p-2f-coop-v3")
    assert env.possible_agents == ["agent_0", "agent_1"] and env.step_limit == 50
    assert make_env("gymma:rware-tiny-2ag-v2").possible_agents == ["agent_0", "agent_1"]  # rware imported above


def test_env_kwargs_reach_gymnasium_make():
    env = make_env("lbforaging:Foraging-10x10-3p-3f-v3", {"players": 2, "max_num_food": 1})
    assert env.possible_agents == ["agent_0", "agent_1"] and env.observation_space("agent_0").shape == (9,)
    rware = make_env(RWARE, {"reward_type": "global"})  # an enum by name, as the CLI passes it
    assert rware.gym_env.unwrapped.reward_type.name == "GLOBAL"


@pytest.mark.parametrize("env_id, kwargs, code, needles", [
    ("lbforaging:Foraging-8x8-2p-2f-cop-v3", {}, "unknown-env", ["did you mean 'Foraging-8x8-2p-2f-coop-v3'"]),
    ("rware:rware-tiny-2ag-v9", {}, "unknown-env", ["did you mean 'rware-tiny-2ag-v2'"]),
    ("gymma:CartPole-v1", {}, "unsupported-env", ["Box(4,)", "Discrete(2)", "single-agent Gymnasium envs are not"]),
    ("gymma:nosuchpkg:Env-v0", {}, "env-not-installed", ["nosuchpkg"]),
    (LBF, {"max_num_fod": 1}, "bad-env-kwarg", ["did you mean 'max_num_food'"]),
    (LBF, {"players": "two"}, "bad-env-kwarg", ["players='two'", "an integer"]),
    (RWARE, {"reward_type": "globl"}, "bad-env-kwarg", ["global, individual, two_stage"]),
])
def test_errors_are_one_clear_marl_error(env_id, kwargs, code, needles):
    with pytest.raises(MARLError) as err:
        make_env(env_id, kwargs)
    assert err.value.code == code
    for needle in needles:
        assert needle in str(err.value)


def test_missing_package_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "lbforaging", None)  # makes `import lbforaging` fail
    with pytest.raises(MARLError) as err:
        make_env(LBF)
    assert err.value.code == "env-not-installed"
    assert 'pip install "marl-advisor[envs]"' in err.value.hint and "pip install lbforaging" in err.value.hint


# --- The CLI ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("algo", ["mappo", "qmix", "vdn"])
def test_marl_train_on_lbf(tmp_path, algo):
    out = tmp_path / algo
    result = runner.invoke(app, ["train", algo, "--env", LBF, "--steps", "400", "--num-envs", "2",
                                 "--eval-episodes", "2", "--out", str(out)])
    assert result.exit_code == 0, result.output
    evaluation = json.loads((out / "eval.json").read_text())
    assert evaluation["episodes"] == 2 and evaluation["episode_length"] == 50
    assert set(evaluation["per_agent"]) == {"agent_0", "agent_1"}


def test_marl_train_single_agent_gymnasium_env_is_a_clear_error():
    result = runner.invoke(app, ["train", "mappo", "--env", "gymma:CartPole-v1", "--steps", "100"])
    assert result.exit_code == 2 and "unsupported-env" in result.output and "Traceback" not in result.output


def test_marl_inspect_lbf():
    result = runner.invoke(app, ["inspect", LBF])
    assert result.exit_code == 0, result.output
    out = " ".join(result.output.split())
    assert "action_space │ discrete" in out and "info['action_mask']" in out
    # Coop LBF rewards every loading agent at once: cooperative, once random play has loaded a food
    # (a few hundred steps; a fixed budget keeps this independent of the machine's speed).
    inspection = inspect_env(LBF, budget=RolloutBudget(min_steps=3000, max_steps=3000, max_seconds=60))
    assert inspection.facts["reward_structure"] == "cooperative" and inspection.facts["action_space"] == "discrete"


def test_marl_advise_with_lbf_recommends():
    # Whether rewards interact is seen only once random play loads a food, which a busy machine may not reach
    # within the inspection's time budget: answered here, as a user would when asked.
    result = runner.invoke(app, ["advise", "--env", LBF, "--multiple-learners", "--interdependent",
                                 "--reward-structure", "cooperative",
                                 "--coordination", "--observability", "full", "--centralized-training",
                                 "--no-communication", "--no-nonmonotonic", "--sample-budget", "cheap", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["algorithm"] in {"vdn", "qmix", "mappo"} and data["bundled"]
    assert data["answers"]["n_agents"] == 2 and data["sources"]["n_agents"] == f"detected from {LBF}"
    assert data["answers"]["action_space"] == "discrete"


@pytest.mark.parametrize("algo_id", ["mfq", "vdn", "mappo"])
def test_predict_reads_action_masks_from_infos(algo_id):
    """predict() in the user's own loop: LBF gives its masks in info; passing `infos` keeps masked actions out."""
    import algorithms

    algo = algorithms.make(algo_id, LBF, num_envs=1, seed=0)
    env = make_env(LBF)
    obs, infos = env.reset(seed=3)
    free = algo.predict(obs, episode_start=True)
    only = {a: (free[a] + 1) % 6 for a in obs}  # allow one action, never the one chosen without masks
    masked = {a: {"action_mask": np.eye(6, dtype=np.int8)[only[a]]} for a in obs}
    assert algo.predict(obs, episode_start=True, infos=masked) == only
    assert all(infos[a]["action_mask"][algo.predict(obs, episode_start=True, infos=infos)[a]] for a in obs)
