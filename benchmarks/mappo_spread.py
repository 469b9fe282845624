"""Any learner on simple_spread N=3: learning curves over seeds, wall-clock to targets, and A/B tests of settings.

    python benchmarks/mappo_spread.py --original-scale       # MAPPO's defaults, seeds 0-2, 2M env steps, timed
    python benchmarks/mappo_spread.py --steps 1000000 --workers 2 \
        --arm old=activation=relu,gamma=0.99,minibatches=1 --arm new=     # an A/B of docs/defaults.md
    python benchmarks/mappo_spread.py --algo ippo --steps 1000000 --workers 2
    python benchmarks/mappo_spread.py --algo qmix --num-envs 8 --steps 200000 --eval-every 50000 --workers 2
    python benchmarks/mappo_spread.py --env mpe2:simple_spread_v3 --num-envs 16 --steps 1000000   # mpe2 backend

Each arm trains on `--env` (default the batched backend, `batched:simple_spread_v3`) with `--num-envs`
copies and is evaluated on mpe2 itself every `--eval-every` env steps: 64 deterministic episodes, per-agent
return. Training seconds exclude evaluation. With `--workers 2` two runs share this 2-core machine: the
returns are exact (each run is seeded and single-threaded), but the seconds are not to be trusted; take
time-to-target figures from `--workers 1` on a quiet machine.

Prints one line per evaluation, then per arm: the final return per seed and its mean, and the training
seconds and env steps until each seed's evaluation first reached each of `--targets`.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from algorithms import make  # noqa: E402
from algorithms.training.evaluate import evaluate  # noqa: E402
from algorithms.core.seeding import seed_everything  # noqa: E402
from algorithms.core.env_registry import make_vec_env  # noqa: E402

EVAL_ENV = "mpe2:simple_spread_v3"
KWARGS = {"N": 3, "local_ratio": 0.5, "max_cycles": 25}


def parse_arm(text: str) -> tuple[str, dict[str, str]]:
    """'name=key=value,key=value' -> (name, {key: value}); 'name=' is the defaults."""
    name, _, rest = text.partition("=")
    settings = dict(item.split("=", 1) for item in rest.split(",") if item)
    return name, settings


def run(job: dict) -> dict:
    """One seed of one arm: train, evaluating every eval_every env steps. Returns the history."""
    torch.set_num_threads(1)
    seed_everything(job["seed"])
    settings = dict(job["settings"])
    kwargs = {**(KWARGS if "simple_spread" in job["env"] else {}), "continuous_actions": job["continuous"]}
    eval_env = "mpe2:" + job["env"].partition(":")[2]  # the same scenario on mpe2 itself
    envs = make_vec_env(job["env"], kwargs, int(settings.pop("num_envs", job["num_envs"])))
    algo = make(job["algo"], envs, **settings)
    algo.begin(envs.reset(seed=job["seed"]))
    trained, history = 0.0, []
    while algo.env_steps < job["steps"]:
        start = time.perf_counter()
        algo.learn(min(algo.env_steps + job["eval_every"], job["steps"]))
        trained += time.perf_counter() - start
        result = evaluate(algo, eval_env, kwargs, episodes=64, deterministic=True, seed=job["seed"] + 999)
        history.append((algo.env_steps, round(trained, 1), round(result["return_mean"], 2)))
        print(f"  {job['arm']:<14} seed {job['seed']}: {algo.env_steps:>9,} steps {trained:7.1f} s  "
              f"return {result['return_mean']:.2f}", flush=True)
    envs.close()
    if job["original_scale"]:
        pz, original, gap = original_scale(algo, 64, job["seed"] + 999)
        print(f"  {job['arm']:<14} seed {job['seed']}: final policy {pz:.2f} per agent (PettingZoo) = {original:.1f} "
              f"on the original MPE team scale (6 x {pz:.2f} - 75 = {6 * pz - 75:.1f}; largest gap {gap:.1e})",
              flush=True)
        return {**job, "history": history, "original": original}
    return {**job, "history": history}


def original_scale(algo, episodes: int = 64, seed: int = 999) -> tuple[float, float, float]:
    """The same deterministic episodes scored on PettingZoo's scale and on the original MPE team scale
    (Lowe et al. 2017's simple_spread as EPyMARL reports it: the sum over agents of -sum over landmarks of the
    nearest agent's distance, minus 1 for every agent each agent touches, itself included).

    Positions are read back from agent 0's observation after every step (velocity, own position, landmarks
    relative, others relative), so this needs nothing from the env's internals. Returns (mean per-agent
    PettingZoo return, mean original return, largest |original - (6 x PettingZoo - 75)| over episodes):
    with N=3, local_ratio 0.5 and 25 steps, original = 3 x global + sum of collisions - 75 and PettingZoo's
    per-agent mean = (global + sum of collisions / 3) / 2, which is what the last figure checks."""
    n, size = KWARGS["N"], 0.15
    envs = make_vec_env(EVAL_ENV, KWARGS, 16)
    step, memory = envs.reset(seed=seed), algo.initial_memory(16)
    running, done = np.zeros(16), []
    while len(done) < episodes:
        actions, memory = algo.act(step, memory, True)
        step = envs.step(actions)
        memory = algo.reset_memory(memory, step.episode_end)
        obs = np.where(step.episode_end[:, None, None], step.final_obs, step.obs)[:, 0].astype(np.float64)
        me = obs[:, 2:4]
        landmarks = me[:, None] + obs[:, 4:4 + 2 * n].reshape(-1, n, 2)
        agents = np.concatenate([me[:, None], me[:, None] + obs[:, 4 + 2 * n:2 + 4 * n].reshape(-1, n - 1, 2)], 1)
        to_landmark = np.linalg.norm(agents[:, :, None] - landmarks[:, None], axis=-1)   # [K, agent, landmark]
        between = np.linalg.norm(agents[:, :, None] - agents[:, None], axis=-1)            # [K, agent, agent]
        running += n * -to_landmark.min(axis=1).sum(-1) - (between < 2 * size).sum((1, 2))
        for copy, returns, _ in step.finished:
            done.append((float(np.mean(returns)), running[copy]))
            running[copy] = 0.0
    envs.close()
    pz, orig = np.array(done[:episodes]).T
    return float(pz.mean()), float(orig.mean()), float(np.abs(orig - (6 * pz - 75)).max())


def time_to(history: list, target: float) -> tuple[float, int] | None:
    for steps, seconds, ret in history:
        if ret >= target:
            return seconds, steps
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--algo", default="mappo")
    parser.add_argument("--arm", action="append", default=[],
                        help="NAME=key=value,key=value (config overrides, and num_envs=K for this arm's copies); "
                             "repeat for several arms. Default: the defaults")
    parser.add_argument("--env", default="batched:simple_spread_v3",
                        help="an MPE scenario on batched: or mpe2: (simple_spread gets N=3, local_ratio 0.5, 25 steps)")
    parser.add_argument("--num-envs", type=int, default=128, help="copies, unless an arm sets num_envs")
    parser.add_argument("--continuous", action="store_true", help="continuous actions (continuous_actions=True)")
    parser.add_argument("--steps", type=int, default=2_000_000)
    parser.add_argument("--eval-every", type=int, default=200_000)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=1, help="runs at once (timings untrustworthy above 1)")
    parser.add_argument("--targets", default="-15,-12,-10.5,-10")
    parser.add_argument("--json", type=Path, help="also write every history here")
    parser.add_argument("--original-scale", action="store_true",
                        help="discrete only: also score each final policy on the original MPE team scale")
    args = parser.parse_args()
    arms = [parse_arm(a) for a in args.arm] or [("defaults", {})]
    jobs = [{"arm": name, "settings": settings, "seed": seed, "algo": args.algo, "env": args.env,
             "num_envs": args.num_envs, "steps": args.steps, "continuous": args.continuous, "eval_every": args.eval_every,
             "original_scale": args.original_scale}
            for name, settings in arms for seed in range(args.first_seed, args.first_seed + args.seeds)]
    print(f"{args.algo} on {args.env} (K={args.num_envs}), evaluated on mpe2 (spread: {KWARGS}), "
          f"{args.workers} run(s) at once, torch {torch.__version__}", flush=True)
    if args.workers > 1:
        with ProcessPoolExecutor(args.workers) as pool:
            results = list(pool.map(run, jobs))
    else:
        results = [run(job) for job in jobs]
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    targets = [float(t) for t in args.targets.split(",")]
    print("\nper-agent return (mpe2, 64 deterministic episodes); time to target: training s / env steps")
    for name, settings in arms:
        mine = [r for r in results if r["arm"] == name]
        finals = [r["history"][-1][2] for r in mine]
        print(f"{name} {settings or '(defaults)'}: final {' / '.join(f'{f:.2f}' for f in finals)}  "
              f"mean {statistics.mean(finals):.2f}  (best eval mean "
              f"{statistics.mean(max(h[2] for h in r['history']) for r in mine):.2f})")
        if all("original" in r for r in mine):
            originals = [r["original"] for r in mine]
            print(f"    original MPE team scale: {' / '.join(f'{o:.1f}' for o in originals)}  "
                  f"mean {statistics.mean(originals):.1f}")
        for target in targets:
            reached = [time_to(r["history"], target) for r in mine]
            cells = ", ".join(f"{t[0]:.0f} s / {t[1]:,}" if t else "not reached" for t in reached)
            print(f"    to {target}: {cells}")


if __name__ == "__main__":
    main()
