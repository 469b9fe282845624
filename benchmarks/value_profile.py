"""Where a value learner's training time goes: cProfile over `--steps` env steps after a warm-up, one torch thread.

    python benchmarks/value_profile.py                                          # QMIX on batched spread
    python benchmarks/value_profile.py --env lbforaging:Foraging-8x8-2p-2f-coop-v3
    python benchmarks/value_profile.py --algo vdn --set schedule=replay --num-envs 8

Prints env steps/s under the profiler (it slows Python-heavy code more than torch kernels), the share of the
update (`_parallel_update` / `_train_step`), of autograd's backward, of the agent network's forwards and of the env
step, then the functions with the most own time. The table in docs/defaults.md came from here.
"""
from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import time
from pathlib import Path

import torch
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from algorithms import make  # noqa: E402
from algorithms.core.env_registry import make_vec_env  # noqa: E402
from algorithms.core.seeding import seed_everything  # noqa: E402
from algorithms.registry import default_num_envs  # noqa: E402

SPREAD = {"N": 3, "local_ratio": 0.5, "max_cycles": 25}
# (label, file fragment, function name): cumulative time of the first match
PARTS = [("update", "value_decomposition.py", "_parallel_update"), ("update", "value_decomposition.py", "_train_step"),
         ("backward", "", "run_backward"), ("agent-net forwards", "networks.py", "forward"),
         ("env step", "", "step")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--algo", default="qmix")
    parser.add_argument("--env", default="batched:simple_spread_v3")
    parser.add_argument("--steps", type=int, default=100_000, help="profiled env steps (default 100,000)")
    parser.add_argument("--warmup", type=int, default=20_000, help="env steps before profiling (default 20,000)")
    parser.add_argument("--num-envs", type=int, default=0, help="copies (default: the algorithm's)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="config fields")
    parser.add_argument("--top", type=int, default=20)
    args = parser.parse_args()
    torch.set_num_threads(1)
    seed_everything(0)
    kwargs = SPREAD if args.env.endswith("simple_spread_v3") else {}
    envs = make_vec_env(args.env, kwargs, args.num_envs or default_num_envs(args.algo, args.env))
    settings = {k: yaml.safe_load(v) for k, v in (item.split("=", 1) for item in args.set)}
    algo = make(args.algo, envs, seed=0, **settings)
    algo.begin(envs.reset(seed=0))
    algo.learn(args.warmup)
    profile = cProfile.Profile()
    start = time.perf_counter()
    profile.enable()
    algo.learn(args.warmup + args.steps)
    profile.disable()
    seconds = time.perf_counter() - start
    done = algo.env_steps - args.warmup
    print(f"{args.algo} on {args.env} ({envs.num_envs} copies): {done:,} env steps in {seconds:.1f} s under the "
          f"profiler, {done / seconds:,.0f} env steps/s")
    stats = pstats.Stats(profile)
    total = max(stats.total_tt, 1e-9)
    shown = set()
    for label, fragment, name in PARTS:
        if label in shown:
            continue
        found = [v for (file, _, func), v in stats.stats.items() if func.endswith(name) and fragment in file
                 and (label != "env step" or "vec_env" in file)]
        if found:
            cumulative = max(v[3] for v in found)
            shown.add(label)
            print(f"  {label:<28} {cumulative:7.2f} s  {100 * cumulative / total:5.1f}%")
    stats.sort_stats("tottime").print_stats(args.top)


if __name__ == "__main__":
    main()
