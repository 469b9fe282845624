"""Milliseconds per gradient step of the value-based learners (IQL, VDN, QMIX, QPLEX) with their defaults.

    python benchmarks/value_update_step.py                                   # VDN and QMIX, speaker-listener
    python benchmarks/value_update_step.py --env lbforaging:Foraging-8x8-2p-2f-coop-v3 --algos qmix

With their defaults these learners take one gradient step per episode stored (EPyMARL's schedule), so at 2M env
steps of 25-step episodes a trial takes 80,000 of them: the step's cost sets most of a trial's wall-clock. Each
algorithm trains `--fill` env steps to fill its replay, then times `--updates` gradient steps on batches
sampled beforehand (and, apart, the sampling). The script imports the checkout it sits in; to compare two
commits, copy it into a checkout of the other (`git worktree add /tmp/old REV; cp benchmarks/value_update_step.py
/tmp/old/benchmarks/`) and run both copies alternately on an otherwise idle machine. The printed TD loss of the
last step is the same at both commits when they compute the same thing.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from algorithms import make  # noqa: E402


def measure(algo_id: str, env: str, fill: int, updates: int, repeats: int) -> tuple[list[float], float, float]:
    """Per-repeat ms per gradient step, ms per batch sampled, and the last step's TD loss."""
    algo = make(algo_id, env, num_envs=8, seed=0)
    algo.learn(fill)
    batches = [algo.replay.sample(algo.config.batch_size) for _ in range(updates)]
    start = time.perf_counter()
    [algo.replay.sample(algo.config.batch_size) for _ in range(updates)]
    sample_ms = 1000 * (time.perf_counter() - start) / updates
    step_ms, loss = [], float("nan")
    for _ in range(repeats):
        start = time.perf_counter()
        for batch in batches:
            loss = algo._train_step(batch)["td"]
        step_ms.append(1000 * (time.perf_counter() - start) / updates)
    return step_ms, sample_ms, loss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--algos", default="vdn,qmix", help="comma-separated value-based algorithm ids")
    parser.add_argument("--env", default="batched:simple_speaker_listener_v4")
    parser.add_argument("--fill", type=int, default=20_000, help="env steps trained before timing")
    parser.add_argument("--updates", type=int, default=200, help="gradient steps per timed repeat")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)  # as `marl benchmark --workers` runs each trial
    print(f"{args.env}, torch {torch.__version__}, 1 thread, 8 copies, defaults; shared machine: absolute "
          f"figures are noisy, compare commits run alternately")
    for algo_id in args.algos.split(","):
        step_ms, sample_ms, loss = measure(algo_id.strip(), args.env, args.fill, args.updates, args.repeats)
        print(f"{algo_id:>6}: gradient step {statistics.median(step_ms):6.2f} ms (median of "
              f"{', '.join(f'{m:.2f}' for m in step_ms)}), sampling a batch {sample_ms:5.2f} ms, "
              f"last TD loss {loss:.6f}", flush=True)


if __name__ == "__main__":
    main()
