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
