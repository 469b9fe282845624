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

The shipped QMIXConfig defaults (the parallel schedule: 128 copies on the batched backend, TD(lambda) 0.3 over each
25-step rollout, 4 epochs x 16 minibatches, a 256-wide LayerNorm agent network, gamma 0.9, epsilon 1 -> 0.1 over
200k env steps), nothing set but the budget, trained on batched:simple_spread_v3 and evaluated on mpe2 itself (64
deterministic episodes, seed 999; random -25.25, do-nothing -23.01 on those episodes), one torch thread, this
shared 2-core machine with two runs at once (2026-12-08):
  seeds 0, 1 at 51k: -18.87, -19.83     at 102k: -18.09, -18.69 (28 s of training)     at 202k: -15.92, -16.55
The test runs 100k on seed 0 and asks for 2.5 better than doing nothing and 5.0 better than random play on the same
episodes (seed 1 clears them by 1.8 and 1.6, seed 0 by 2.4 and 2.2).
The test above keeps the replay schedule's recipe of its measurements (schedule=replay and the old network).
"""
from pathlib import Path

import pytest

from algorithms.training.run import RunSpec, Trainer
from tests.helpers import SPREAD, SPREAD_KWARGS

RANDOM, NOOP = -26.8, -24.4
BUDGET = 40_000
SETTINGS = {"schedule": "replay", "hidden_size": 64, "layer_norm": False, "td_lambda": 0.0, "max_grad_norm": 10.0,
            "epsilon_finish": 0.05, "updates_per_iteration": 8, "epsilon_anneal_steps": 10_000, "standardise_rewards": True, "tau": 0.01,
            "gamma": 0.99, "lr": 5e-4}  # the settings the figures above were measured with


@pytest.mark.slow
def test_qmix_beats_random_and_do_nothing_on_spread(tmp_path: Path):
    spec = RunSpec("qmix", SPREAD, SPREAD_KWARGS, steps=BUDGET, seed=0, num_envs=8, device="cpu",
                   checkpoint_every=10**9, eval_episodes=64, config=dict(SETTINGS))
    result = Trainer.create(spec, tmp_path / "run").train()
    assert result["episodes"] == 64
    assert result["return_mean"] > NOOP + 1.0, result
    assert result["return_mean"] > RANDOM + 3.4, result


DEFAULTS_BUDGET = 100_000


@pytest.mark.slow
def test_qmix_defaults_beat_random_and_do_nothing_on_spread():
    import torch

    from algorithms import make
    from algorithms.training.evaluate import evaluate
    from algorithms.value_config import QMIXConfig

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as measured
    try:
        algo = make("qmix", "batched:simple_spread_v3", env_kwargs=dict(SPREAD_KWARGS), seed=0)  # 128 copies
        assert algo.config == QMIXConfig()  # the shipped defaults, nothing overridden
        algo.learn(DEFAULTS_BUDGET)
        result = evaluate(algo, SPREAD, SPREAD_KWARGS, episodes=64, deterministic=True, seed=999, references=True)
    finally:
        torch.set_num_threads(threads)
    references = result["references"]
    assert result["episodes"] == 64 and algo.env_steps >= DEFAULTS_BUDGET
    assert result["return_mean"] > references["noop"]["mean"] + 2.5, result
    assert result["return_mean"] > references["random"]["mean"] + 5.0, result
