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


def trained(algo: str, env: str, steps: int, seed: int = 0, env_kwargs: dict | None = None, num_envs: int = 8,
            seed_all: bool = False, **overrides):
    """`algo` trained on `num_envs` copies of `env` for `steps` env steps: (learner, every iteration's metrics).
    Seeds torch only, or every generator with `seed_all` (the settings each test's figures were measured with)."""
    if seed_all:
        seed_everything(seed)
    else:
        torch.manual_seed(seed)
    envs = make_vec_env(env, env_kwargs or {}, num_envs=num_envs)
    learner = make(algo, envs, **overrides)
    learner.begin(envs.reset(seed=seed))
    rows: list[dict] = []
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
    return trained("self_play", env, steps, seed, num_envs=num_envs, seed_all=True, **overrides)


def trained_nash_q(env_id: str, steps: int, seed: int = 0, num_envs: int = 8, env_kwargs=None, **overrides):
    """nash_q trained on `env_id`: (algorithm, its envs)."""
    algo, _ = trained("nash_q", env_id, steps, seed, env_kwargs, num_envs, **overrides)
    return algo, algo.envs
