"""MADDPG learns on mpe2 tasks with small budgets (per-agent returns over 25-step episodes).

Bars (docs/defaults.md, 1,000 episodes): simple_spread_v3 (N=3, local_ratio=0.5) random -26.8,
do-nothing -24.4; simple_adversary_v3 (N=2, discrete) with every agent random: adversary_0 -28.8,
agent_0 / agent_1 +7.9.

Settings: 30k env steps, 8 copies, FAST = learning_starts 2,000 and 4 gradient steps per 100 env steps
(the paper: 25,600 and 1), other fields at the paper's values; deterministic evaluation.
Measured on this shared 2-core machine (`python -m tests.learning.test_learning_maddpg` reprints them):

continuous simple_spread, 64 evaluation episodes, mean per-agent return:
    seeds 0, 1, 2: -19.64, -19.60, -19.52.  Asserted: above do-nothing + 3 = -21.4 (random + 5.4), which
    every seed clears by about 1.8; doing nothing is -24.4 with standard error 0.27.

simple_adversary: we show the trained *adversary* is better than a random one, and the trained *good agents*
better than random good agents, each playing against uniformly random opponents (so the bar -28.8 / +7.9
is the same game with only the trained side changed). 128 episodes:
    trained adversary  seeds 0, 1, 2: -16.35, -20.21, -20.54 (random adversary -28.8)
    trained good pair  seeds 0, 1, 2: +18.58, +15.76, +17.82 (random good agents +7.9)
    Asserted: adversary above -28.8 + 6 = -22.8, good agents above 7.9 + 5 = 12.9. Both margins hold for
    every seed with at least 2.2 points to spare (standard errors of the bars: 0.41 and 0.50).
Each test trains one seed (35-45 s here); benchmarks/maddpg.py measures longer budgets.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

from algorithms import make
from algorithms.training.evaluate import evaluate
from algorithms.core.seeding import seed_everything
from algorithms.core.env_registry import make_vec_env
from tests.helpers import SPREAD, SPREAD_KWARGS

RANDOM, NOOP = -26.8, -24.4
ADV_RANDOM, GOOD_RANDOM = -28.8, 7.9
BUDGET = 30_000
FAST = {"learning_starts": 2_000, "updates": 4}


def train(env_id: str, kwargs: dict, seed: int, steps: int = BUDGET, **overrides):
    seed_everything(seed)
    envs = make_vec_env(env_id, kwargs, num_envs=8)
    algo = make("maddpg", envs, **{**FAST, **overrides})
    algo.begin(envs.reset(seed=seed))
    algo.learn(steps)
    envs.close()
    return algo


def play_against_random(algo, env_id: str, kwargs: dict, trained: list[str], episodes: int, seed: int) -> np.ndarray:
    """Mean per-agent return [N] when the agents in `trained` act greedily and all others uniformly at random."""
    envs = make_vec_env(env_id, kwargs, num_envs=8)
    info = envs.info
    rng = np.random.default_rng(seed)
    use_trained = np.array([a in trained for a in info.agents])
    step, returns = envs.reset(seed=seed), []
    while len(returns) < episodes:
        actions, _ = algo.act(step, None, deterministic=True)
        random = np.stack([rng.integers(0, info.action_sizes) for _ in range(envs.num_envs)])  # [K, N]
        actions = np.where(use_trained[None], actions, random)
        step = envs.step(actions)
        returns += [r for _, r, _ in step.finished]
    envs.close()
    return np.mean(returns[:episodes], axis=0)


@pytest.mark.slow
def test_maddpg_beats_random_and_do_nothing_on_continuous_spread():
    kwargs = {**SPREAD_KWARGS, "continuous_actions": True}
    algo = train(SPREAD, kwargs, seed=0)
    result = evaluate(algo, SPREAD, kwargs, episodes=64, deterministic=True, seed=999)
    assert result["return_mean"] > NOOP + 3.0, result
    assert result["return_mean"] > RANDOM + 5.4, result


@pytest.mark.slow
def test_maddpg_trained_adversary_and_good_agents_beat_random_ones_on_simple_adversary():
    env = "mpe2:simple_adversary_v3"
    algo = train(env, {}, seed=0)
    adversary = play_against_random(algo, env, {}, ["adversary_0"], episodes=128, seed=999)[0]
    good = play_against_random(algo, env, {}, ["agent_0", "agent_1"], episodes=128, seed=999)[1:].mean()
    assert adversary > ADV_RANDOM + 6.0, adversary
    assert good > GOOD_RANDOM + 5.0, good


if __name__ == "__main__":  # reprint the measured numbers in the docstring
    torch.set_num_threads(1)
    kwargs = {**SPREAD_KWARGS, "continuous_actions": True}
    for s in (0, 1, 2):
        algo = train(SPREAD, kwargs, seed=s)
        print(f"spread seed {s}: {evaluate(algo, SPREAD, kwargs, 64, True, 999)['return_mean']:.2f}", flush=True)
    for s in (0, 1, 2):
        algo = train("mpe2:simple_adversary_v3", {}, seed=s)
        adv = play_against_random(algo, "mpe2:simple_adversary_v3", {}, ["adversary_0"], 128, 999)[0]
        good = play_against_random(algo, "mpe2:simple_adversary_v3", {}, ["agent_0", "agent_1"], 128, 999)[1:].mean()
        print(f"adversary seed {s}: trained adversary {adv:.2f}, trained good agents {good:.2f}", flush=True)
