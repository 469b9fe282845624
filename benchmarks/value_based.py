"""QMIX and VDN on simple_spread: training throughput against raw env stepping (one run), and the final
per-agent return after a fixed budget over 3 seeds.

    python benchmarks/value_based.py                    # throughput + returns at 40k steps (several minutes)
    python benchmarks/value_based.py --budget 100000    # a longer budget
    python benchmarks/value_based.py --skip-returns     # throughput only (about 1 minute)
    python benchmarks/value_based.py --skip-throughput --recency-half-life 200   # QMIX: recency replay vs uniform

Throughput counts env steps per second (each step moves every agent) over collection plus updates, with
K = 8 copies and the learning settings below; raw stepping uses the unchecked construction trainers use.
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
from benchmarks.throughput import ENV, KWARGS, raw_steps_per_s  # noqa: E402

SETTINGS = {"updates_per_iteration": 8, "epsilon_anneal_steps": 10_000, "standardise_rewards": True, "tau": 0.01,
            "gamma": 0.99}  # docs/value-based.md's 40k-step table; the defaults are measured by benchmarks/mappo_spread.py --algo qmix


def train(algo_id: str, seed: int, steps: int, num_envs: int = 8, **overrides):
    seed_everything(seed)
    envs = make_vec_env(ENV, KWARGS, num_envs)
    algo = make(algo_id, envs, **{**SETTINGS, **overrides})
    algo.begin(envs.reset(seed=seed))
    return algo


def training_steps_per_s(algo_id: str, steps: int) -> float:
    algo = train(algo_id, 0, steps)
    algo.learn(algo.config.batch_size * 25)  # fill the buffer so every timed iteration updates
    start_steps, start = algo.env_steps, time.perf_counter()
    algo.learn(start_steps + steps)
    return (algo.env_steps - start_steps) / (time.perf_counter() - start)


def final_return(algo_id: str, seed: int, budget: int, **overrides) -> float:
    algo = train(algo_id, seed, budget, **overrides)
    algo.learn(budget)
    return evaluate(algo, ENV, KWARGS, episodes=64, deterministic=True, seed=seed + 10_000)["return_mean"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=10_000, help="env steps timed per throughput measurement")
    parser.add_argument("--budget", type=int, default=40_000, help="training env steps per seed for returns")
    parser.add_argument("--skip-returns", action="store_true")
    parser.add_argument("--skip-throughput", action="store_true")
    parser.add_argument("--recency-half-life", type=float, default=0.0,
                        help="also measure QMIX with recency-prioritised replay of this half-life (episodes)")
    args = parser.parse_args()
    torch.set_num_threads(1)  # measured: 2 threads on this shared 2-core machine were 5-7x slower
    print(f"simple_spread_v3 {KWARGS}, torch {torch.__version__}, {torch.get_num_threads()} threads, K=8, {SETTINGS}")
    if not args.skip_throughput:
        raw = raw_steps_per_s(False, args.steps)
        print(f"raw stepping, unchecked: {raw:8,.0f} env steps/s")
        for algo_id in ("qmix", "vdn"):
            sps = training_steps_per_s(algo_id, args.steps)
            print(f"{algo_id:>5} training: {sps:8,.0f} env steps/s ({sps / raw:.0%} of raw)", flush=True)
    if args.skip_returns:
        return
    print(f"final per-agent return after {args.budget:,} env steps (64 greedy evaluation episodes; "
          f"random -26.8, do-nothing -24.4):")
    variants = [("qmix", {}), ("vdn", {})]
    if args.recency_half_life > 0:
        variants.append(("qmix", {"recency_half_life": args.recency_half_life}))
    for algo_id, overrides in variants:
        returns = [final_return(algo_id, seed, args.budget, **overrides) for seed in (0, 1, 2)]
        label = algo_id + "".join(f" {k}={v:g}" for k, v in overrides.items())
        print(f"{label:>5}: " + ", ".join(f"{r:.1f}" for r in returns)
              + f"  (mean {statistics.mean(returns):.1f})", flush=True)


if __name__ == "__main__":
    main()
