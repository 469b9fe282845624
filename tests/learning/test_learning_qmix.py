"""QMIX on cooperative navigation (mpe2 simple_spread_v3, N=3, local_ratio=0.5, max_cycles=25).

Bars (per-agent return over 25 steps, docs/defaults.md): random -26.8, do-nothing -24.4.

Measured before writing the assertion (8 copies, 40k env steps, deterministic evaluation over 64
episodes, this shared 2-core machine, about 50 s per run):
  SETTINGS below (8 updates per iteration, epsilon 1 -> 0.05 over 10k steps, standardised rewards,
  soft targets tau=0.01): seeds 0, 1, 2: -21.5, -22.9, -19.9 (mean -21.4)
  earlier settings that failed: 4 updates per iteration, epsilon over 20k, hard targets: -33.4 (60k
  steps, raw rewards), -32.1 (40k, standardised): the greedy policy was worse than random.
The assertion asks for 1.0 better than doing nothing (3.4 better than random): below every seed measured
(the worst, seed 1, clears it by 0.5; the test runs seed 0, which clears it by 1.9).

The shipped QMIXConfig defaults (lr 1e-3, hard targets every 1000 updates, mixer_state_norm, gamma 0.95, epsilon
over 50k steps, one update per stored episode), nothing else set but the budget and 8 copies (the default for the
batched backend), trained on batched:simple_spread_v3 and evaluated on mpe2 itself (64 deterministic episodes,
seed 999; random -25.25, do-nothing -23.01 on those episodes), one torch thread, this shared 2-core machine:
  seeds 0, 1, 2 at  80k: -19.80, -21.85, -20.25     at 100k: -20.27, -20.59, -19.85
                at 120k: -19.25, -19.62, -18.94 (63-75 s of training)     at 150k: -18.98, -19.04, -18.38
The test runs 120k on seed 0 and asks for 2.5 better than doing nothing and 5.0 better than random play on the same
episodes (the worst seed clears them by 0.9 and 0.6, seed 0 by 1.3 and 1.0).
"""
from pathlib import Path

import pytest

from algorithms.training.run import RunSpec, Trainer
from tests.helpers import SPREAD, SPREAD_KWARGS

RANDOM, NOOP = -26.8, -24.4
BUDGET = 40_000
SETTINGS = {"updates_per_iteration": 8, "epsilon_anneal_steps": 10_000, "standardise_rewards": True, "tau": 0.01,
            "gamma": 0.99, "lr": 5e-4}  # the settings the figures above were measured with


@pytest.mark.slow
def test_qmix_beats_random_and_do_nothing_on_spread(tmp_path: Path):
    spec = RunSpec("qmix", SPREAD, SPREAD_KWARGS, steps=BUDGET, seed=0, num_envs=8, device="cpu",
                   checkpoint_every=10**9, eval_episodes=64, config=dict(SETTINGS))
    result = Trainer.create(spec, tmp_path / "run").train()
    assert result["episodes"] == 64
    assert result["return_mean"] > NOOP + 1.0, result
    assert result["return_mean"] > RANDOM + 3.4, result


DEFAULTS_BUDGET = 120_000


@pytest.mark.slow
def test_qmix_defaults_beat_random_and_do_nothing_on_spread():
    import torch

    from algorithms import make
    from algorithms.training.evaluate import evaluate
    from algorithms.value_config import QMIXConfig

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as measured
    try:
        algo = make("qmix", "batched:simple_spread_v3", env_kwargs=dict(SPREAD_KWARGS), num_envs=8, seed=0)
        assert algo.config == QMIXConfig()  # the shipped defaults, nothing overridden
        algo.learn(DEFAULTS_BUDGET)
        result = evaluate(algo, SPREAD, SPREAD_KWARGS, episodes=64, deterministic=True, seed=999, references=True)
    finally:
        torch.set_num_threads(threads)
    references = result["references"]
    assert result["episodes"] == 64 and algo.env_steps >= DEFAULTS_BUDGET
    assert result["return_mean"] > references["noop"]["mean"] + 2.5, result
    assert result["return_mean"] > references["random"]["mean"] + 5.0, result
