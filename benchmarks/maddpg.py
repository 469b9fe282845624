"""MADDPG on continuous simple_spread: training throughput against raw env stepping (one run), and final
returns after a fixed budget (3 seeds).

    python benchmarks/maddpg.py                    # throughput + 3 seeds x 100k env steps (about 8 minutes)
    python benchmarks/maddpg.py --skip-returns     # throughput only (about 1 minute)
    python benchmarks/maddpg.py --budget 30000     # the learning test's budget

Throughput is env steps per second (each step moves every agent), training = collection + updates, after
the replay holds `learning_starts` transitions, for the paper's schedule (1 gradient step per 100 env steps)
and the tests' faster one (4 per 100). Returns: mean per-agent return of a deterministic 64-episode
evaluation; bars from docs/defaults.md: random -26.8, do-nothing -24.4, greedy assignment -9.0.
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
from algorithms.training.evaluate import evaluate  # noqa: E402
from algorithms.core.seeding import seed_everything  # noqa: E402
from algorithms.core.env_registry import make_vec_env  # noqa: E402
from benchmarks.throughput import raw_steps_per_s  # noqa: E402

ENV = "mpe2:simple_spread_v3"
KWARGS = {"N": 3, "local_ratio": 0.5, "max_cycles": 25, "continuous_actions": True}
PAPER = {"learning_starts": 2_000}               # the paper's update schedule, updates start early
FAST = {"learning_starts": 2_000, "updates": 4}  # tests/learning/test_learning_maddpg.py


def maddpg_steps_per_s(num_envs: int, steps: int, overrides: dict) -> float:
    seed_everything(0)
    envs = make_vec_env(ENV, KWARGS, num_envs)
    algo = make("maddpg", envs, **overrides)
    algo.begin(envs.reset(seed=0))
    algo.learn(algo.config.learning_starts + 1_000)  # fill the replay and run some updates, not timed
    start_steps, start = algo.env_steps, time.perf_counter()
    algo.learn(start_steps + steps)
    return (algo.env_steps - start_steps) / (time.perf_counter() - start)


def final_return(seed: int, budget: int, overrides: dict) -> tuple[float, float]:
    seed_everything(seed)
    envs = make_vec_env(ENV, KWARGS, 8)
    algo = make("maddpg", envs, **overrides)
    algo.begin(envs.reset(seed=seed))
    start = time.perf_counter()
    algo.learn(budget)
    seconds = time.perf_counter() - start
    return evaluate(algo, ENV, KWARGS, episodes=64, deterministic=True, seed=seed + 999)["return_mean"], seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=10_000, help="env steps timed per throughput measurement")
    parser.add_argument("--budget", type=int, default=100_000, help="env steps of training per seed")
    parser.add_argument("--skip-returns", action="store_true")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    print(f"continuous simple_spread_v3 {KWARGS}, torch {torch.__version__}, {torch.get_num_threads()} thread(s)")
    raw_checked = raw_steps_per_s(True, args.steps, KWARGS)
    raw_unchecked = raw_steps_per_s(False, args.steps, KWARGS)
    print(f"raw stepping, parallel_env() with PettingZoo's checks: {raw_checked:8,.0f} env steps/s")
    print(f"raw stepping, unchecked (what trainers use):          {raw_unchecked:8,.0f} env steps/s")
    print(f"{'schedule':<22} {'K':>3} {'MADDPG steps/s':>15} {'vs checked':>11} {'vs unchecked':>13}")
    for name, overrides in (("paper (1 upd/100)", PAPER), ("fast (4 upd/100)", FAST)):
        for k in (1, 8):
            sps = maddpg_steps_per_s(k, args.steps, overrides)
            print(f"{name:<22} {k:>3} {sps:>15,.0f} {sps / raw_checked:>10.0%} {sps / raw_unchecked:>12.0%}",
                  flush=True)

    if args.skip_returns:
        return
    print(f"final per-agent return after {args.budget:,} env steps (K=8, fast schedule, 64 deterministic episodes):")
    returns = []
    for seed in (0, 1, 2):
        ret, seconds = final_return(seed, args.budget, FAST)
        returns.append(ret)
        print(f"  seed {seed}: {ret:7.2f}  ({seconds:.0f} s of training)", flush=True)
    print(f"  mean {statistics.mean(returns):.2f}, min {min(returns):.2f}, max {max(returns):.2f} "
          f"(random -26.8, do-nothing -24.4)")


if __name__ == "__main__":
    main()
