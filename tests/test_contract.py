"""Every registered algorithm on every small built-in env its capability flags accept, through the public API:
a few learning steps, actions a real env accepts, a save/load round trip that predicts the same actions, and
a run directory that resumes exactly. A new algorithm in the registry is covered without a line here."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

import algorithms
from algorithms.core.env_registry import make_env
from algorithms.errors import MARLError
from algorithms.training.run import RunSpec, Trainer

SPREAD = ("mpe2:simple_spread_v3", {"N": 2, "max_cycles": 5})
SPREAD_CONTINUOUS = (SPREAD[0], {**SPREAD[1], "continuous_actions": True})
# Small settings for speed, applied to the fields an algorithm has.
SMALL = {"rollout_steps": 10, "epochs": 1, "minibatches": 1, "batch_size": 4, "hidden_size": 16,
         "learning_starts": 8, "buffer_size": 64, "train_every": 10}
UNSUPPORTED = ("unsupported-env", "unsupported-action-space", "needs-two-players", "not-zero-sum")


def _small(algo_id: str) -> dict:
    fields = {f.name for f in dataclasses.fields(algorithms.get_entry(algo_id).config_cls)}
    return {k: v for k, v in SMALL.items() if k in fields}


def _pairs() -> list[tuple[str, str, dict]]:
    """Per algorithm, from its capability flags: a matrix game of its reward setting, simple_spread with each
    action space it handles; kept where algorithms.make accepts it."""
    pairs = []
    for algo_id, entry in algorithms.ALGORITHMS.items():
        flags = entry.config_cls
        matrix = ("matrix:climbing" if "cooperative" in flags.reward_settings else "matrix:rps", {})
        candidates = [matrix] + [env for kind, env in (("discrete", SPREAD), ("continuous", SPREAD_CONTINUOUS))
                                 if kind in flags.action_spaces]
        for env_id, kwargs in candidates:
            try:
                algorithms.make(algo_id, env_id, env_kwargs=kwargs, num_envs=1, seed=0, **_small(algo_id))
            except MARLError as err:
                if err.code in UNSUPPORTED:
                    continue
                raise
            pairs.append((algo_id, env_id, kwargs))
    return pairs


PAIRS = _pairs()


def test_every_algorithm_has_a_small_env():
    assert {a for a, _, _ in PAIRS} == set(algorithms.ALGORITHMS)


def _pair_id(pair) -> str:
    algo_id, env_id, kwargs = pair
    return f"{algo_id}-{env_id.split(':')[1]}{'-cont' if kwargs.get('continuous_actions') else ''}"


def _play(algo, env_id: str, kwargs: dict, steps: int = 3) -> list[tuple[dict, dict]]:
    """(observations, actions) of `algo.predict` on a fresh PettingZoo env of its own, checked against the
    env's action spaces."""
    env = make_env(env_id, kwargs)
    obs, _ = env.reset(seed=1)
    chosen = []
    for _ in range(steps):
        actions = algo.predict(obs, deterministic=True)
        assert set(actions) == set(obs)
        for agent, action in actions.items():
            assert env.action_space(agent).contains(np.asarray(action, dtype=env.action_space(agent).dtype)
                                                    if not isinstance(action, int) else action), (agent, action)
        chosen.append((obs, actions))
        obs, *_ = env.step(actions)
        if not env.agents:
            break
    return chosen


def _same(a, b, agents) -> bool:
    """The learnt agents' actions agree (single_agent's opponents draw from their own RNG)."""
    return all(np.array_equal(np.asarray(a[k]), np.asarray(b[k])) for k in a if k in agents) and set(a) == set(b)


@pytest.mark.parametrize("pair", PAIRS, ids=_pair_id)
def test_learn_predict_save_load(tmp_path, pair):
    algo_id, env_id, kwargs = pair
    algo = algorithms.make(algo_id, env_id, env_kwargs=kwargs, num_envs=2, seed=0, **_small(algo_id))
    algo.learn(60)
    assert algo.env_steps >= 60
    before = _play(algo, env_id, kwargs)
    algo.predict(before[0][0], episode_start=True)  # predict's memory restarts on request
    path = tmp_path / "policy.pt"
    algo.save(path)
    torch.load(path, weights_only=True)  # plain data only: loading runs no code from the file
    loaded = algorithms.load(path)
    assert loaded.algo_id == algo_id and loaded.env_steps == algo.env_steps
    assert loaded.config == algo.config
    for i, (obs, actions) in enumerate(before):  # the same observations, in the same order (recurrent memory)
        assert _same(actions, loaded.predict(obs, deterministic=True, episode_start=i == 0), algo.policy_agents())
    loaded.learn(loaded.env_steps + 20)  # a loaded algorithm goes on learning
    assert loaded.env_steps >= algo.env_steps + 20


@pytest.mark.parametrize("pair", PAIRS, ids=_pair_id)
def test_run_directory_resumes_exactly(tmp_path, pair):
    algo_id, env_id, kwargs = pair

    def spec(steps):
        return RunSpec(algo_id, env_id, kwargs, steps=steps, seed=3, num_envs=2, device="cpu",
                       checkpoint_every=10**9, eval_episodes=1, config=_small(algo_id))

    Trainer.create(spec(40), tmp_path / "pieces").train()
    resumed = Trainer.resume(tmp_path / "pieces", 80)
    assert resumed.env_restored  # the env copies come back mid-episode, not from a fresh reset
    resumed.train()
    Trainer.create(spec(80), tmp_path / "straight").train()
    pieces, straight = ((tmp_path / n / "metrics.csv").read_text() for n in ("pieces", "straight"))
    assert pieces == straight and len(pieces.splitlines()) >= 3


def test_load_refuses_foreign_damaged_and_incompatible_files(tmp_path):
    (tmp_path / "junk.pt").write_bytes(b"not a policy")
    with pytest.raises(MARLError) as err:
        algorithms.load(tmp_path / "junk.pt")
    assert err.value.code == "corrupt-policy"
    with pytest.raises(MARLError) as err:
        algorithms.load(tmp_path / "missing.pt")
    assert err.value.code == "missing-policy"
    algo = algorithms.make("iql", "matrix:climbing", num_envs=1, seed=0, batch_size=2)
    algo.save(tmp_path / "p.pt")
    payload = torch.load(tmp_path / "p.pt", weights_only=True)
    payload["format"] += 1
    torch.save(payload, tmp_path / "future.pt")
    with pytest.raises(MARLError) as err:
        algorithms.load(tmp_path / "future.pt")
    assert err.value.code == "incompatible-policy"


def test_predict_rejects_observations_from_another_env():
    algo = algorithms.make("iql", "matrix:climbing", num_envs=1, seed=0, batch_size=2)
    with pytest.raises(MARLError) as err:
        algo.predict({"stranger": np.zeros(3)})
    assert err.value.code == "unknown-agent"
    with pytest.raises(MARLError) as err:
        algo.predict({"agent_0": np.zeros(500), "agent_1": np.zeros(500)})
    assert err.value.code == "bad-observation"


def test_load_refuses_a_policy_file_with_parts_missing(tmp_path):
    algo = algorithms.make("iql", "matrix:climbing", num_envs=1, seed=0, batch_size=2)
    algo.save(tmp_path / "p.pt")
    payload = torch.load(tmp_path / "p.pt", weights_only=True)
    del payload["env"]
    torch.save(payload, tmp_path / "partial.pt")
    with pytest.raises(MARLError) as err:
        algorithms.load(tmp_path / "partial.pt")
    assert err.value.code == "corrupt-policy"
