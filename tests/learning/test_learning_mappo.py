"""MAPPO's defaults learn cooperative navigation (simple_spread_v3, N=3, local_ratio=0.5, max_cycles=25).

Trained on the batched backend (`batched:simple_spread_v3`, mpe2's dynamics bit for bit) with no tuning flags:
the default 128 copies and 3,200-step batches, tanh, gamma 0.95, 4 minibatches (docs/defaults.md). Evaluated
on mpe2 itself, 64 deterministic episodes. Bars (docs/defaults.md): random -26.8, do-nothing -24.4.

Measured before choosing the margins (201,600 env steps, one torch thread, this 2-core machine, 25-30 s a run):
  discrete   seeds 0, 1, 2: -16.21, -14.81, -15.14
  continuous seeds 0, 1, 2: -15.87, -16.19, -16.20
Both assertions ask for 5 points better than doing nothing (-19.4): at least 3.2 below the worst seed, and 7.4
above random play. The run's own end-of-training evaluation must beat its measured do-nothing return by 4.
"""
from pathlib import Path

import pytest

from algorithms.training.evaluate import evaluate
from algorithms.training.run import RunSpec, Trainer
from tests.helpers import SPREAD, SPREAD_KWARGS

RANDOM, NOOP = -26.8, -24.4
BUDGET = 200_000
BAR = NOOP + 5.0


def _train(tmp_path: Path, continuous: bool, seed: int = 0) -> tuple[dict, dict]:
    kwargs = {**SPREAD_KWARGS, "continuous_actions": continuous}
    spec = RunSpec("mappo", "batched:simple_spread_v3", kwargs, steps=BUDGET, seed=seed, device="cpu",
                   checkpoint_every=10**9, eval_episodes=64)
    trainer = Trainer.create(spec, tmp_path / "run")
    result = trainer.train()
    on_mpe2 = evaluate(trainer.algo, SPREAD, kwargs, episodes=64, deterministic=True, seed=999)
    return result, on_mpe2


@pytest.mark.slow
@pytest.mark.parametrize("continuous", [False, True], ids=["discrete", "continuous"])
def test_mappo_defaults_beat_random_and_do_nothing_on_spread(tmp_path, continuous):
    result, on_mpe2 = _train(tmp_path, continuous)
    assert result["episodes"] == 64 and result["env_steps"] >= BUDGET
    assert result["return_mean"] > result["references"]["noop"]["mean"] + 4.0, result
    assert on_mpe2["return_mean"] > BAR, on_mpe2


if __name__ == "__main__":  # python -m tests.learning.test_learning_mappo: every seed's figure, for the docstring
    import tempfile

    for continuous in (False, True):
        for seed in (0, 1, 2):
            with tempfile.TemporaryDirectory() as tmp:
                print(f"continuous={continuous} seed {seed}: "
                      f"{_train(Path(tmp), continuous, seed)[1]['return_mean']:.2f}", flush=True)
