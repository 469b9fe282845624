"""Time to target for MAPPO and the value learners with their shipped defaults, one run after another.

    python benchmarks/value_time_to_target.py                       # spread and LBF, mappo/qmix/vdn, seeds 0-2
    python benchmarks/value_time_to_target.py --tasks spread --algos qmix --seeds 5
    python benchmarks/value_time_to_target.py --arm qmix-replay=qmix:examples/value_replay.yaml:num_envs=8,lr=0.001
    python benchmarks/value_time_to_target.py --tasks spread --algos qmix --seeds 5 --steps 1300000 --full

Tasks (each with its own targets, evaluation and budget):
- spread: trains on `batched:simple_spread_v3` (N=3, bit-identical to mpe2), evaluated every 100k env steps on
  mpe2 itself, 64 deterministic episodes; targets -12 and -10 per agent; budget 2M env steps.
- lbf: trains on `lbforaging:Foraging-8x8-2p-2f-coop-v3`, evaluated every 100k env steps on 64 deterministic
  episodes; target 0.9 team return (the sum over agents; 1 is every food eaten); budget 1M env steps.
- lbf10: `lbforaging:Foraging-10x10-3p-3f-v3`, evaluated the same way; targets 0.386 and 0.555 team return (what
  VDN and QMIX reached at 2M env steps under the replay schedule, docs/environments.md); budget 2M env steps.

Every run is one fresh single-threaded process (so its peak resident memory is its own, printed as `rss`), and
runs go one at a time: the seconds are of this machine as it is (shared and noisy: do not start other jobs while
it runs). A run stops early once it has reached every target, unless `--full` (then it trains the whole budget,
`--steps` or the task's, and the summary adds the IQM over seeds of the last evaluation). Training seconds
exclude evaluation.
Prints one line per evaluation, then per task and arm: seconds and env steps to each target for every seed, the
median, and the ratio of each arm's median time to MAPPO's from this same run.
"""
from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import torch
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from algorithms import make  # noqa: E402
from algorithms.core.env_registry import make_vec_env  # noqa: E402
from algorithms.core.seeding import seed_everything  # noqa: E402
from algorithms.core.statistics import iqm  # noqa: E402
from algorithms.registry import default_num_envs  # noqa: E402
from algorithms.training.evaluate import evaluate  # noqa: E402

SPREAD = {"N": 3, "local_ratio": 0.5, "max_cycles": 25}
TASKS = {
    "spread": {"train": "batched:simple_spread_v3", "eval": "mpe2:simple_spread_v3", "kwargs": SPREAD,
               "targets": [-12.0, -10.0], "steps": 2_000_000, "every": 100_000, "team": False},
    "lbf": {"train": "lbforaging:Foraging-8x8-2p-2f-coop-v3", "eval": "lbforaging:Foraging-8x8-2p-2f-coop-v3",
            "kwargs": {}, "targets": [0.9], "steps": 1_000_000, "every": 100_000, "team": True},
    # the 2M-step grid's greedy team returns of VDN (0.386) and QMIX (0.555) under the replay schedule
    "lbf10": {"train": "lbforaging:Foraging-10x10-3p-3f-v3", "eval": "lbforaging:Foraging-10x10-3p-3f-v3",
              "kwargs": {}, "targets": [0.386, 0.555], "steps": 2_000_000, "every": 100_000, "team": True},
}


def parse_arm(text: str) -> tuple[str, str, dict]:
    """'NAME=ALGO[:CONFIG.yaml][:key=value,...]' -> (name, algo, settings); a bare 'ALGO' is its defaults."""
    name, _, rest = text.partition("=") if "=" in text.split(":")[0] else (text, "", text)
    algo, *parts = rest.split(":")
    settings: dict = {}
    for part in parts:
        if part.endswith((".yaml", ".yml")):
            settings.update(yaml.safe_load(Path(part).read_text()))
        else:
            settings.update({k: yaml.safe_load(v) for k, v in (item.split("=", 1) for item in part.split(",") if item)})
    return name, algo, settings


def run(job: dict) -> dict:
    """One seed of one arm on one task, in its own process: train until every target is reached or the budget."""
    torch.set_num_threads(1)
    task, settings = TASKS[job["task"]], dict(job["settings"])
    seed_everything(job["seed"])
    num_envs = int(settings.pop("num_envs", 0)) or default_num_envs(job["algo"], task["train"])
    envs = make_vec_env(task["train"], task["kwargs"], num_envs)
    algo = make(job["algo"], envs, seed=job["seed"], **settings)
    algo.begin(envs.reset(seed=job["seed"]))
    agents = algo.info.n_agents
    trained, history, reached = 0.0, [], {}
    budget = job["steps"] or task["steps"]
    while algo.env_steps < budget and (job["full"] or len(reached) < len(task["targets"])):
        start = time.perf_counter()
        algo.learn(min(algo.env_steps + task["every"], budget))
        trained += time.perf_counter() - start
        result = evaluate(algo, task["eval"], task["kwargs"], episodes=64, deterministic=True, seed=job["seed"] + 999)
        value = result["return_mean"] * (agents if task["team"] else 1)
        history.append((algo.env_steps, round(trained, 1), round(value, 3)))
        for target in task["targets"]:
            if value >= target and target not in reached:
                reached[target] = (round(trained, 1), algo.env_steps)
        print(f"  {job['task']:<6} {job['arm']:<12} seed {job['seed']}: {algo.env_steps:>9,} steps {trained:6.1f} s  "
              f"{'team return' if task['team'] else 'return'} {value:7.3f}", flush=True)
    envs.close()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    print(f"  {job['task']:<6} {job['arm']:<12} seed {job['seed']}: done, {num_envs} copies, peak rss {rss:.0f} MiB",
          flush=True)
    return {**job, "num_envs": num_envs, "history": history, "reached": {str(k): v for k, v in reached.items()},
            "rss_mib": round(rss)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", default="spread,lbf", help=f"comma-separated, of {', '.join(TASKS)}")
    parser.add_argument("--algos", default="mappo,qmix,vdn", help="algorithms with their shipped defaults")
    parser.add_argument("--arm", action="append", default=[], help="NAME=ALGO[:CONFIG.yaml][:key=value,...]; "
                        "repeatable, run after --algos")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--steps", type=int, default=0, help="env steps per run (default: the task's budget)")
    parser.add_argument("--full", action="store_true", help="train the whole budget, not only until every target")
    parser.add_argument("--json", type=Path, help="also write every history here")
    args = parser.parse_args()
    arms = [parse_arm(a) for a in args.algos.split(",") if a] + [parse_arm(a) for a in args.arm]
    tasks = [t for t in args.tasks.split(",") if t]
    unknown = [t for t in tasks if t not in TASKS]
    if unknown:
        parser.error(f"unknown task {unknown[0]!r}; tasks: {', '.join(TASKS)}")
    jobs = [{"task": t, "arm": name, "algo": algo, "settings": settings, "seed": seed, "steps": args.steps,
             "full": args.full}
            for t in tasks for name, algo, settings in arms
            for seed in range(args.first_seed, args.first_seed + args.seeds)]
    print(f"{len(jobs)} runs one after another, one torch thread each, torch {torch.__version__}", flush=True)
    with ProcessPoolExecutor(1, max_tasks_per_child=1) as pool:  # a fresh process per run: its own peak memory
        results = list(pool.map(run, jobs))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    print("\ntime to target: training seconds / env steps per seed; median seconds; ratio to MAPPO's median")
    for t in tasks:
        for target in TASKS[t]["targets"]:
            medians = {}
            for name, _, _ in arms:
                mine = [r for r in results if r["task"] == t and r["arm"] == name]
                times = [r["reached"].get(str(target)) for r in mine]
                cells = ", ".join(f"{x[0]:.0f} s / {x[1]:,}" if x else "not reached" for x in times)
                medians[name] = statistics.median(x[0] if x else float("inf") for x in times)
                ratio = (f"  x{medians[name] / medians['mappo']:.2f} MAPPO's" if "mappo" in medians
                         and name != "mappo" and medians["mappo"] not in (0, float("inf")) else "")
                final = statistics.mean(r["history"][-1][2] for r in mine)
                rss = max(r["rss_mib"] for r in mine)
                print(f"{t} to {target}: {name:<12} {cells}  median {medians[name]:.0f} s{ratio}  "
                      f"(last eval mean {final:.3f}; peak rss {rss} MiB)")
        if args.full:
            for name, _, _ in arms:
                mine = [r for r in results if r["task"] == t and r["arm"] == name]
                last = [r["history"][-1] for r in mine]
                print(f"{t} at the budget: {name:<12} IQM {iqm([h[2] for h in last]):.3f} over {len(last)} seeds "
                      f"({', '.join(f'{h[2]:.2f}' for h in last)}) after {', '.join(f'{h[1]:.0f}' for h in last)} s "
                      f"of training, {last[0][0]:,} env steps")


if __name__ == "__main__":
    main()
