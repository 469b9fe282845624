"""EPyMARL's Gymnasium tasks (Level-Based Foraging, Multi-Robot Warehouse): learning curves over seeds for several
algorithms, beside random play on the same evaluation episodes.

    python benchmarks/gymma_tasks.py                                  # MAPPO, IPPO, QMIX, VDN on LBF 8x8-2p-2f-coop, 2M steps, 3 seeds
    python benchmarks/gymma_tasks.py --env lbforaging:Foraging-10x10-3p-3f-v3
    python benchmarks/gymma_tasks.py --env rware:rware-tiny-2ag-v2 --algos mappo --steps 500000
    python benchmarks/gymma_tasks.py --algos mappo,vdn --steps 200000 --eval-every 50000 --seeds 1 --workers 2

Every algorithm runs with its defaults and default copy count for PettingZoo-style envs (what `marl train`
does); every `--eval-every` env steps it is evaluated over `--episodes` deterministic episodes (the team return:
the sum over agents, EPyMARL's common-reward figure; LBF's is at most 1.0 per episode), with random play on the
same episodes. Prints one line per evaluation and a final table (mean over seeds, and each seed). With
`--workers 2` two runs share the 2-core machine: returns are exact, seconds are not.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from advisor.cli_options import parse_set_options  # noqa: E402
from algorithms import make  # noqa: E402
from algorithms.core.seeding import seed_everything  # noqa: E402
from algorithms.training.evaluate import evaluate  # noqa: E402


def run(job: dict) -> dict:
    """One seed of one algorithm: train, evaluating every eval_every env steps."""
    torch.set_num_threads(1)
    seed_everything(job["seed"])
    algo = make(job["algo"], job["env"], seed=job["seed"], **job["overrides"])
    history, trained = [], 0.0
    while algo.env_steps < job["steps"]:
        start = time.perf_counter()
        algo.learn(min(algo.env_steps + job["eval_every"], job["steps"]))
        trained += time.perf_counter() - start
        result = evaluate(algo, job["env"], {}, job["episodes"], deterministic=True, seed=10_000 + job["seed"],
                          references=True)
        n = algo.info.n_agents
        row = {"steps": algo.env_steps, "seconds": trained, "team_return": result["return_mean"] * n,
               "random_team_return": result["references"]["random"]["mean"] * n}
        history.append(row)
        print(f"  {job['algo']:<6} seed {job['seed']}: {row['steps']:>9,} steps {trained:7.0f} s  team return "
              f"{row['team_return']:6.3f}  (random {row['random_team_return']:6.3f})", flush=True)
    return {**job, "history": history}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", default="lbforaging:Foraging-8x8-2p-2f-coop-v3")
    parser.add_argument("--algos", default="mappo,ippo,qmix,vdn")
    parser.add_argument("--steps", type=int, default=2_000_000)
    parser.add_argument("--eval-every", type=int, default=250_000)
    parser.add_argument("--episodes", type=int, default=100)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--json", help="also write every history here")
    parser.add_argument("--set", action="append", default=[], help="config field KEY=VALUE for every algorithm "
                        "(repeatable)")
    args = parser.parse_args()
    overrides = parse_set_options(args.set)  # the CLI's --set parser; make() checks and types each value
    jobs = [{"algo": a, "env": args.env, "seed": s, "steps": args.steps, "eval_every": args.eval_every,
             "episodes": args.episodes, "overrides": overrides} for a in args.algos.split(",")
            for s in range(args.first_seed, args.first_seed + args.seeds)]
    print(f"{args.env}: {args.algos} x {args.seeds} seed(s), {args.steps:,} env steps, {args.workers} run(s) at once,"
          f" overrides {args.set or 'none'}, torch {torch.__version__}")
    if args.workers > 1:
        with ProcessPoolExecutor(args.workers) as pool:
            results = list(pool.map(run, jobs))
    else:
        results = [run(job) for job in jobs]
    print("\nteam return at the last evaluation (mean over seeds; seeds), random play on the same episodes")
    for algo in args.algos.split(","):
        finals = [r["history"][-1] for r in results if r["algo"] == algo]
        values = [f["team_return"] for f in finals]
        print(f"  {algo:<6} {statistics.mean(values):6.3f}  ({', '.join(f'{v:.3f}' for v in values)});  random "
              f"{statistics.mean(f['random_team_return'] for f in finals):.3f}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
