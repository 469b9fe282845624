"""MAPPO throughput against raw environment stepping on simple_spread, measured in one run.

    python benchmarks/throughput.py                 # throughput table (about 2 minutes)
    python benchmarks/throughput.py --time-to-target  # also wall-clock to a per-agent return of -15 (3 seeds)

Prints env steps per second (each step moves every agent) for:
- raw stepping with random actions: `parallel_env()` as users build it (with PettingZoo's checking
  wrappers) and the unchecked construction our trainers use (same env, no input-checking wrappers);
- MAPPO training (collection + updates) with K = 1, 8, 32 copies, and its ratio to both raw figures.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
from gymnasium import spaces

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from algorithms import make  # noqa: E402
from algorithms.core.env_registry import make_env  # noqa: E402
from algorithms.training.evaluate import evaluate  # noqa: E402
from algorithms.core.seeding import seed_everything  # noqa: E402
from algorithms.core.env_registry import make_vec_env  # noqa: E402

ENV = "mpe2:simple_spread_v3"
KWARGS = {"N": 3, "local_ratio": 0.5, "max_cycles": 25}
# The settings docs/benchmarks.md's throughput table and its earlier learning figures were measured with: MAPPO's
# defaults before docs/defaults.md's A/B (rollout_steps 50, 1 minibatch, relu, gamma 0.99), and the old learning
# tests' faster variant. Kept explicit so those figures stay reproducible.
OLD_DEFAULTS = {"rollout_steps": 50, "minibatches": 1, "activation": "relu", "gamma": 0.99}
FAST = {**OLD_DEFAULTS, "rollout_steps": 25, "minibatches": 2}


def raw_steps_per_s(checked: bool, steps: int, kwargs: dict = KWARGS) -> float:
    """Raw stepping with uniformly random actions, drawn up front (sampling is not the env's cost)."""
    env = make_env(ENV, kwargs, checked=checked)
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    space, n = env.action_space(env.possible_agents[0]), len(env.possible_agents)
    if isinstance(space, spaces.Discrete):
        actions = rng.integers(space.n, size=(steps, n))
    else:
        actions = rng.uniform(space.low, space.high, size=(steps, n, *space.shape)).astype(np.float32)
    start = time.perf_counter()
    for t in range(steps):
        if not env.agents:
            env.reset()
        env.step({a: actions[t, i] for i, a in enumerate(env.agents)})
    return steps / (time.perf_counter() - start)


def mappo_steps_per_s(num_envs: int, steps: int, **overrides) -> float:
    seed_everything(0)
    envs = make_vec_env(ENV, KWARGS, num_envs)
    algo = make("mappo", envs, **{**OLD_DEFAULTS, **overrides})
    algo.begin(envs.reset(seed=0))
    algo.learn(algo.rollout_steps * num_envs)  # warm-up iteration, not timed
    start_steps, start = algo.env_steps, time.perf_counter()
    algo.learn(start_steps + steps)
    return (algo.env_steps - start_steps) / (time.perf_counter() - start)


def time_to_return(envs, target: float, seed: int, max_steps: int, eval_every: int, config: dict = FAST,
                   label: str = "") -> tuple[float, int, list[tuple[int, float, float]]]:
    """Train MAPPO (`config`) on `envs`, any VecEnv of simple_spread_v3 with KWARGS, evaluating every
    `eval_every` env steps with 32 deterministic episodes on mpe2 itself. Returns (training seconds until
    the evaluation reaches `target`, evaluation excluded, or inf if it never does within max_steps; env
    steps trained; the history of (env steps, training seconds, evaluation return))."""
    seed_everything(seed)
    algo = make("mappo", envs, **config)
    algo.begin(envs.reset(seed=seed))
    trained, history = 0.0, []
    while algo.env_steps < max_steps:
        start = time.perf_counter()
        algo.learn(algo.env_steps + eval_every)
        trained += time.perf_counter() - start
        result = evaluate(algo, ENV, KWARGS, episodes=32, deterministic=True, seed=seed + 999)
        history.append((algo.env_steps, trained, result["return_mean"]))
        print(f"    {label}seed {seed}: {algo.env_steps:>9,} steps, {trained:7.1f} s, "
              f"return {result['return_mean']:.2f}", flush=True)
        if result["return_mean"] >= target:
            return trained, algo.env_steps, history
    return float("inf"), algo.env_steps, history


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=20_000, help="env steps timed per measurement")
    parser.add_argument("--time-to-target", action="store_true", help="also measure wall-clock to -15")
    parser.add_argument("--target", type=float, default=-15.0)
    parser.add_argument("--max-steps", type=int, default=2_000_000)
    args = parser.parse_args()
    torch.set_num_threads(1)  # what `marl train` uses by default (--threads 1)

    print(f"simple_spread_v3 {KWARGS}, torch {torch.__version__}, {torch.get_num_threads()} threads")
    raw_checked = raw_steps_per_s(True, args.steps)
    raw_unchecked = raw_steps_per_s(False, args.steps)
    print(f"raw stepping, parallel_env() with PettingZoo's checks: {raw_checked:8,.0f} env steps/s")
    print(f"raw stepping, unchecked (what trainers use):          {raw_unchecked:8,.0f} env steps/s")
    print(f"{'K':>4} {'MAPPO steps/s':>14} {'vs checked':>11} {'vs unchecked':>13}")
    for k in (1, 8, 32):
        sps = mappo_steps_per_s(k, args.steps)
        print(f"{k:>4} {sps:>14,.0f} {sps / raw_checked:>10.0%} {sps / raw_unchecked:>12.0%}", flush=True)

    if args.time_to_target:
        print(f"MAPPO wall-clock to a per-agent evaluation return of {args.target} (K=8, {FAST}):")
        times = []
        for seed in (0, 1, 2):
            seconds, steps, _ = time_to_return(make_vec_env(ENV, KWARGS, 8), args.target, seed, args.max_steps,
                                               eval_every=25_000)
            times.append(seconds)
            print(f"  seed {seed}: {seconds:.0f} s ({steps:,} env steps)")
        print(f"  median: {statistics.median(times):.0f} s")


if __name__ == "__main__":
    main()
