"""The batched MPE backend (`batched:`) against mpe2 on simple_spread, measured in one run.

    python benchmarks/batched_mpe.py                    # env steps/s table (a few minutes; mpe2 at N=10 is slow)
    python benchmarks/batched_mpe.py --quick            # smaller budgets, a smoke run (about 20 s)
    python benchmarks/batched_mpe.py --time-to-target   # also MAPPO wall-clock to a per-agent return of -15
    python benchmarks/batched_mpe.py --learning         # also final returns at an equal env-step budget

Env steps per second (one step moves every agent of one copy), random actions drawn up front:
- mpe2 raw: one `parallel_env()` stepped directly, with and without PettingZoo's checking wrappers
  (benchmarks/throughput.py's `raw_steps_per_s`);
- mpe2 PettingZooVecEnv: K copies behind the batched interface the trainers use (K <= 256: every
  mpe2 copy holds a 700x700 pygame canvas, 4096 of them would need 8 GB);
- batched: `make_vec_env("batched:simple_spread_v3", ...)` with K = 1, 16, 256, 4096.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from algorithms import make  # noqa: E402
from algorithms.core.evaluate import evaluate  # noqa: E402
from algorithms.core.seeding import seed_everything  # noqa: E402
from algorithms.core.vec_env import make_vec_env  # noqa: E402
from benchmarks.throughput import raw_steps_per_s  # noqa: E402

NAME = "simple_spread_v3"
KWARGS = {"local_ratio": 0.5, "max_cycles": 25}


def vec_steps_per_s(env_id: str, kwargs: dict, num_envs: int, steps: int, min_rounds: int = 25) -> float:
    """Env steps/s of a batched env (all K copies stepped `steps // K` times, at least `min_rounds`)."""
    env = make_vec_env(env_id, kwargs, num_envs)
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    n, size = env.info.n_agents, env.info.action_dim
    actions = rng.integers(size, size=(16, num_envs, n))
    rounds = max(min_rounds, steps // num_envs)
    env.step(actions[0])  # warm-up
    start = time.perf_counter()
    for t in range(rounds):
        env.step(actions[t % 16])
    seconds = time.perf_counter() - start
    env.close()
    return rounds * num_envs / seconds


def throughput_table(steps: int, batched_steps: int, sizes=(1, 16, 256, 4096), mpe2_sizes=(1, 16, 256)) -> None:
    for n in (3, 10):
        kwargs = {**KWARGS, "N": n}
        mpe2_steps = steps if n == 3 else steps // 4  # mpe2 is about 9x slower at N=10
        checked = raw_steps_per_s(True, mpe2_steps, {**kwargs})
        raw = raw_steps_per_s(False, mpe2_steps, {**kwargs})
        print(f"\nsimple_spread_v3 N={n}: mpe2 raw stepping {checked:,.0f} env steps/s with PettingZoo's checks, "
              f"{raw:,.0f} without (the trainers' construction)")
        print(f"{'K':>6} {'mpe2 VecEnv':>12} {'batched':>12} {'batched / mpe2 raw':>19}")
        for k in sizes:
            ref = vec_steps_per_s(f"mpe2:{NAME}", kwargs, k, mpe2_steps, 2) if k in mpe2_sizes else float("nan")
            ours = vec_steps_per_s(f"batched:{NAME}", kwargs, k, batched_steps)
            ref_text = f"{ref:12,.0f}" if ref == ref else f"{'-':>12}"
            print(f"{k:>6} {ref_text} {ours:12,.0f} {ours / raw:18,.0f}x", flush=True)


# ---------------------------------------------------------------------------------------------------
# Learning: the same MAPPO on each backend

MPE2_SETTINGS = {"num_envs": 8, "config": {"rollout_steps": 25, "minibatches": 2}}   # throughput.py's FAST, K=8
BATCHED_SETTINGS = {"num_envs": 128, "config": {"rollout_steps": 25, "minibatches": 2}}


def _algo(env_id: str, seed: int, num_envs: int, config: dict):
    seed_everything(seed)
    envs = make_vec_env(env_id, {**KWARGS, "N": 3}, num_envs)
    algo = make("mappo", envs, **config)
    algo.begin(envs.reset(seed=seed))
    return algo


def time_to_return(env_id: str, target: float, seed: int, max_steps: int, eval_every: int,
                   num_envs: int, config: dict) -> tuple[float, int]:
    """benchmarks/throughput.py's time_to_return for any env id: training wall-clock (evaluation
    excluded) until a 32-episode deterministic evaluation reaches `target`; (inf, steps) if never."""
    algo = _algo(env_id, seed, num_envs, config)
    trained = 0.0
    while algo.env_steps < max_steps:
        start = time.perf_counter()
        algo.learn(algo.env_steps + eval_every)
        trained += time.perf_counter() - start
        result = evaluate(algo, env_id, {**KWARGS, "N": 3}, episodes=32, deterministic=True, seed=seed + 999)
        print(f"    {env_id} seed {seed}: {algo.env_steps:>9,} steps, {trained:7.1f} s, "
              f"return {result['return_mean']:.2f}", flush=True)
        if result["return_mean"] >= target:
            return trained, algo.env_steps
    return float("inf"), algo.env_steps


def final_return(env_id: str, seed: int, budget: int, num_envs: int, config: dict) -> tuple[float, float]:
    """(per-agent evaluation return after `budget` env steps, training seconds). Evaluated on mpe2 for
    both backends, so the comparison does not lean on the equivalence it is meant to support."""
    algo = _algo(env_id, seed, num_envs, config)
    start = time.perf_counter()
    algo.learn(budget)
    seconds = time.perf_counter() - start
    result = evaluate(algo, f"mpe2:{NAME}", {**KWARGS, "N": 3}, episodes=64, deterministic=True, seed=seed + 999)
    return result["return_mean"], seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=5_000,
                        help="env steps timed per mpe2 measurement (N=10: a quarter)")
    parser.add_argument("--no-throughput", action="store_true", help="skip the env steps/s table")
    parser.add_argument("--batched-steps", type=int, default=400_000, help="env steps timed per batched measurement")
    parser.add_argument("--quick", action="store_true", help="small budgets: checks the script runs")
    parser.add_argument("--time-to-target", action="store_true", help="MAPPO wall-clock to --target, 3 seeds each")
    parser.add_argument("--learning", action="store_true", help="MAPPO final returns at --budget env steps, 3 seeds")
    parser.add_argument("--target", type=float, default=-15.0)
    parser.add_argument("--max-steps", type=int, default=2_000_000)
    parser.add_argument("--budget", type=int, default=100_000)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--first-seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)  # what `marl train` uses by default (--threads 1)
    if args.quick:
        args.steps, args.batched_steps, args.max_steps, args.budget, args.seeds = 1000, 20_000, 20_000, 10_000, 1

    print(f"numpy {np.__version__}, torch {torch.__version__}, {torch.get_num_threads()} torch thread(s)")
    if not args.no_throughput:
        throughput_table(args.steps, args.batched_steps)
    arms = [(f"mpe2:{NAME}", MPE2_SETTINGS), (f"batched:{NAME}", BATCHED_SETTINGS)]
    seeds = range(args.first_seed, args.first_seed + args.seeds)

    if args.learning:
        print(f"\nMAPPO per-agent return after {args.budget:,} env steps (evaluated on mpe2, 64 episodes), "
              "same settings (mpe2's) on both backends:")
        for env_id in (f"mpe2:{NAME}", f"batched:{NAME}"):
            runs = [final_return(env_id, s, args.budget, **MPE2_SETTINGS) for s in seeds]
            returns = [r for r, _ in runs]
            print(f"  {env_id:<26} returns {', '.join(f'{r:.2f}' for r in returns)}  mean {np.mean(returns):.2f}"
                  f"  training {statistics.median(s for _, s in runs):.0f} s median", flush=True)

    if args.time_to_target:
        print(f"\nMAPPO wall-clock to a per-agent evaluation return of {args.target} (evaluation excluded):")
        medians = {}
        for env_id, settings in arms:
            print(f"  {env_id} with {settings}")
            times = []
            for seed in seeds:
                seconds, steps = time_to_return(env_id, args.target, seed, args.max_steps, eval_every=25_000
                                                if not args.quick else 5_000, **settings)
                times.append(seconds)
                print(f"  {env_id} seed {seed}: {seconds:.0f} s ({steps:,} env steps)", flush=True)
            medians[env_id] = statistics.median(times)
            print(f"  {env_id} median: {medians[env_id]:.0f} s", flush=True)
        ref, ours = medians[arms[0][0]], medians[arms[1][0]]
        if ours < float("inf"):
            print(f"  speed-up: {ref / ours:.1f}x" if ref < float("inf") else
                  f"  mpe2 never reached {args.target} within {args.max_steps:,} steps; batched did in {ours:.0f} s")


if __name__ == "__main__":
    main()
