"""The batched MPE backend (`batched:`) against mpe2 on simple_spread, measured in one run.

    python benchmarks/batched_mpe.py                    # env steps/s table (a few minutes; mpe2 at N=10 is slow)
    python benchmarks/batched_mpe.py --quick            # smaller budgets, a smoke run (about 20 s)
    python benchmarks/batched_mpe.py --no-throughput --time-to-target   # MAPPO wall-clock to a return of -15
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
from algorithms.training.evaluate import evaluate  # noqa: E402
from algorithms.core.seeding import seed_everything  # noqa: E402
from algorithms.core.env_registry import make_vec_env  # noqa: E402
from algorithms.envs.mpe import BatchedMPEVecEnv  # noqa: E402
from benchmarks.throughput import raw_steps_per_s, time_to_return  # noqa: E402

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

# The settings docs/benchmarks.md's backend comparison was measured with (MAPPO's defaults before docs/defaults.md's A/B
# were relu and gamma 0.99), kept explicit so those figures stay reproducible.
OLD = {"activation": "relu", "gamma": 0.99}
MPE2_SETTINGS = {"num_envs": 8, "config": {"rollout_steps": 25, "minibatches": 2, **OLD}}   # K=8
TARGET_K, TARGET_CONFIG = 128, {"rollout_steps": 25, "minibatches": 2, **OLD}  # time to -15: 3,200 samples an update


def _algo(env_id: str, seed: int, num_envs: int, config: dict):
    seed_everything(seed)
    envs = make_vec_env(env_id, {**KWARGS, "N": 3}, num_envs)
    algo = make("mappo", envs, **config)
    algo.begin(envs.reset(seed=seed))
    return algo


def final_return(env_id: str, seed: int, budget: int, num_envs: int, config: dict) -> tuple[float, float]:
    """(per-agent evaluation return after `budget` env steps, training seconds). Evaluated on mpe2 for
    both backends, so the comparison does not lean on the equivalence it is meant to support."""
    algo = _algo(env_id, seed, num_envs, config)
    start = time.perf_counter()
    algo.learn(budget)
    seconds = time.perf_counter() - start
    result = evaluate(algo, f"mpe2:{NAME}", {**KWARGS, "N": 3}, episodes=64, deterministic=True, seed=seed + 999)
    return result["return_mean"], seconds


def time_to_target(args, seeds) -> None:
    """MAPPO wall-clock to args.target on each backend, same K, config and seed. The batched env draws
    mpe2's own episodes (seeding="mpe2"), so the two runs are the same run bit for bit (checked here at
    every shared evaluation): they need the same env steps and differ only in seconds per step. The mpe2
    run is timed over its first --mpe2-steps (or to the target with --mpe2-full) and its time to the
    target is those env steps at its measured training rate."""
    kwargs, eval_every = {**KWARGS, "N": 3}, args.eval_every
    print(f"\nMAPPO wall-clock to a per-agent evaluation return of {args.target} (evaluation excluded; "
          f"K={TARGET_K}, {TARGET_CONFIG}, evaluated on mpe2 every {eval_every:,} steps, 32 episodes):")
    batched_times, mpe2_times = [], []
    for seed in seeds:
        ours, steps, history = time_to_return(BatchedMPEVecEnv(NAME, kwargs, TARGET_K, seeding="mpe2"),
                                              args.target, seed, args.max_steps, eval_every, TARGET_CONFIG,
                                              label="batched ")
        limit = args.max_steps if args.mpe2_full else min(steps, args.mpe2_steps)
        ref, _, ref_history = time_to_return(make_vec_env(f"mpe2:{NAME}", kwargs, TARGET_K),
                                             args.target if args.mpe2_full else float("inf"), seed, limit,
                                             eval_every, TARGET_CONFIG, label="mpe2    ")
        ours_at = {n: r for n, _, r in history}  # compared wherever both evaluated at the same env step
        shared = [(r, ours_at[n]) for n, _, r in ref_history if n in ours_at]
        same = bool(shared) and all(a == b for a, b in shared)
        rate = ref_history[-1][0] / ref_history[-1][1]
        if not args.mpe2_full:
            ref = steps / rate if ours < float("inf") else float("inf")
        batched_times.append(ours)
        mpe2_times.append(ref)
        ours_rate = history[-1][0] / history[-1][1]
        print(f"  seed {seed}: batched {ours:.0f} s to {steps:,} env steps ({ours_rate:,.0f} steps/s); mpe2 "
              f"{ref:.0f} s {'measured' if args.mpe2_full else f'at its {rate:,.0f} steps/s'} "
              f"({len(shared)} evaluations identical to batched: {'yes' if same else 'NO'})", flush=True)
    b, m = statistics.median(batched_times), statistics.median(mpe2_times)
    print(f"  median: batched {b:.0f} s, mpe2 {m:.0f} s, speed-up {m / b:.1f}x" if b < float("inf") else
          f"  batched did not reach {args.target} within {args.max_steps:,} steps")


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
    parser.add_argument("--max-steps", type=int, default=3_000_000)
    parser.add_argument("--eval-every", type=int, default=50_000, help="time to target: env steps between evaluations")
    parser.add_argument("--mpe2-steps", type=int, default=200_000,
                        help="time to target: env steps the mpe2 run is timed over (its rate gives its time)")
    parser.add_argument("--mpe2-full", action="store_true", help="time to target: run mpe2 to the target too")
    parser.add_argument("--budget", type=int, default=100_000)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--first-seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)  # what `marl train` uses by default (--threads 1)
    if args.quick:
        args.steps, args.batched_steps, args.max_steps, args.budget, args.seeds = 1000, 20_000, 20_000, 10_000, 1
        args.eval_every, args.mpe2_steps = 6_400, 6_400

    print(f"numpy {np.__version__}, torch {torch.__version__}, {torch.get_num_threads()} torch thread(s)")
    if not args.no_throughput:
        throughput_table(args.steps, args.batched_steps)
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
        time_to_target(args, seeds)


if __name__ == "__main__":
    main()
