"""`marl benchmark`'s executors on one grid: in one process, on `--workers 2` local processes, and on a local Ray.

    python benchmarks/benchmark_executors.py                      # 2 algorithms x 1 env x 4 seeds, 20k steps each
    python benchmarks/benchmark_executors.py --steps 5000 --env matrix:climbing

Prints the wall-clock of each executor (the same trials, fresh directories), the speed-up over one process (this
machine has 2 cores, so 2x is the ceiling), Ray's start-up (ray.init to a first trivial task) and its per-trial
overhead (Ray's wall-clock minus the one-process time divided by the parallelism, per trial). Run it on a quiet
machine: another training job makes every figure slower and the ratios meaningless. The returns of the three
executors must agree (each trial is seeded and single-threaded).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def marl(*args: str) -> tuple[float, dict]:
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "advisor.cli", *args, "--json"], cwd=ROOT, capture_output=True,
                          text=True, check=True)
    return time.perf_counter() - start, json.loads(done.stdout)


def ray_startup() -> float:
    import ray

    start = time.perf_counter()
    ray.init(include_dashboard=False, log_to_driver=False, configure_logging=False)
    ray.get(ray.remote(lambda: 1).remote())
    took = time.perf_counter() - start
    ray.shutdown()
    return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--algorithms", default="vdn,qmix")
    parser.add_argument("--env", default="mpe2:simple_spread_v3")
    parser.add_argument("--seeds", type=int, default=4)
    parser.add_argument("--steps", type=int, default=20_000)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-executors-"))
    spec = work / "spec.yaml"
    spec.write_text(yaml.safe_dump({"algorithms": args.algorithms.split(","), "envs": [args.env],
                                    "seeds": list(range(args.seeds)), "steps": args.steps, "eval_episodes": 8}))
    trials = len(args.algorithms.split(",")) * args.seeds
    print(f"{trials} trials ({args.algorithms} on {args.env}, {args.seeds} seeds, {args.steps:,} env steps each), "
          f"{os.cpu_count()} CPUs")
    runs = {}
    for name, extra in (("one process", []), ("--workers 2", ["--workers", "2"]), ("--ray (local)", ["--ray"])):
        seconds, out = marl("benchmark", str(spec), "--out", str(work / name.replace(" ", "_")), *extra)
        runs[name] = (seconds, [t["return"] for t in out["trials"]])
        print(f"  {name:<14} {seconds:7.1f} s   speed-up {runs['one process'][0] / seconds:4.2f}x")
    same = len({tuple(r) for _, r in runs.values()}) == 1
    print(f"  returns identical across executors: {same}")
    startup = ray_startup()
    parallel = min(2, os.cpu_count() or 1)
    overhead = (runs["--ray (local)"][0] - runs["one process"][0] / parallel) / trials
    print(f"  Ray start-up (init + first task): {startup:.1f} s; overhead per trial beyond an ideal {parallel}x "
          f"split: {overhead:.1f} s")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
