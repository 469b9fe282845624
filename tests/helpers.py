"""Helpers shared by several test modules (tests import this, never each other or benchmarks/)."""
from __future__ import annotations

from pathlib import Path

import torch

from algorithms import make
from algorithms.core.env_registry import make_vec_env
from algorithms.core.seeding import seed_everything
from algorithms.single_agent import play_learner

SPREAD = "mpe2:simple_spread_v3"
SPREAD_KWARGS = {"N": 3, "local_ratio": 0.5, "max_cycles": 25}


def edit(rules_dir: Path, name: str, old: str, new: str) -> None:
    """Replace the first `old` in a copied rule file (which must contain it) by `new`."""
    path = rules_dir / name
    text = path.read_text()
    assert old in text, f"{old!r} not in {name}"
    path.write_text(text.replace(old, new, 1))


def trained(algo: str, env: str, steps: int, seed: int = 0, env_kwargs: dict | None = None, **overrides):
    """`algo` trained on 8 copies of `env` for `steps` env steps: (learner, every iteration's metrics)."""
    torch.manual_seed(seed)
    envs = make_vec_env(env, env_kwargs or {}, num_envs=8)
    learner = make(algo, envs, **overrides)
    learner.begin(envs.reset(seed=seed))
    rows = []
    learner.learn(steps, lambda a, m: rows.append(m))
    return learner, rows


def learner_results(learner, env: str, env_kwargs: dict | None = None, episodes: int = 64, seed: int = 123):
    """Greedy play of a single_agent-style learner: (win rate, mean return)."""
    result = play_learner(learner, env, env_kwargs or {}, episodes, seed)
    return result["charts/learner_win_rate"], result["charts/learner_return"]


def win_rate(learner, env: str, episodes: int = 64, seed: int = 123) -> float:
    """The learner's share of won games (its return above every other agent's), greedy actions."""
    return learner_results(learner, env, {}, episodes, seed)[0]


def trained_self_play(env: str, steps: int, seed: int = 0, num_envs: int = 8, **overrides):
    """self_play trained on `env`: (algorithm, every iteration's metrics)."""
    seed_everything(seed)
    envs = make_vec_env(env, {}, num_envs)
    algo = make("self_play", envs, **overrides)
    algo.begin(envs.reset(seed=seed))
    history: list[dict] = []
    algo.learn(steps, lambda a, m: history.append(m))
    return algo, history


def trained_nash_q(env_id: str, steps: int, seed: int = 0, num_envs: int = 8, env_kwargs=None, **overrides):
    """nash_q trained on `env_id`: (algorithm, its envs)."""
    torch.manual_seed(seed)
    envs = make_vec_env(env_id, env_kwargs or {}, num_envs=num_envs)
    algo = make("nash_q", envs, **overrides)
    algo.begin(envs.reset(seed=seed))
    algo.learn(steps)
    return algo, envs
