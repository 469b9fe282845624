"""BenchMARL's MAPPO against ours on simple_spread, for the same wall-clock budget: one table.

    python benchmarks/benchmarl_compare.py --seconds 300           # set up (first time), run both, print the table
    python benchmarks/benchmarl_compare.py --setup-only            # only create / check .venv-benchmarl/
    python benchmarks/benchmarl_compare.py --seconds 300 --seed 1 --out runs/benchmarl_compare/s1

BenchMARL is never a dependency of this project or of its tests. The first run creates `.venv-benchmarl/` at the
root of the repository (git-ignored) with this machine's Python and installs pinned versions there, the CPU torch
wheel first so that nothing pulls a CUDA build: torch 2.13.0, then torchvision 0.28.0 (the one built for it),
benchmarl 1.5.2, torchrl 0.11.1, tensordict 0.11.0 (benchmarl 1.5.2 wants torchrl <0.12), pettingzoo 1.27.0 and
mpe2 1.1.1. Later runs reuse it after checking those versions. The BenchMARL side runs in that venv as a
subprocess (benchmarks/_benchmarl_run.py, which imports nothing from this repository); ours runs in this
repository's `.venv` (or the running interpreter if there is none), also as a subprocess. They run one after the
other, never at once.

The task is the same on both sides: PettingZoo MPE simple_spread (mpe2's simple_spread_v3: N=3 agents, local_ratio
0.5, 25 steps per episode, discrete actions), with these settings:
  * BenchMARL: `MappoConfig.get_from_yaml()`, `MlpConfig.get_from_yaml()` for actor and critic,
    `ExperimentConfig.get_from_yaml()` (its defaults: 6,000 frames per iteration from 10 env copies, 45 epochs of
    400-frame minibatches, lr 5e-5, ...) with device cpu. Changed from its defaults: `max_cycles` 25 instead of
    BenchMARL's simple_spread default of 100, so that episodes and returns are the ones we score; discrete actions
    (`prefer_continuous_actions` False; BenchMARL would otherwise pick continuous ones), since ours are discrete;
    no loggers, checkpoints, rendering or evaluation during training.
  * Ours: `make("mappo", envs)` with its defaults on `batched:simple_spread_v3` (128 copies, 3,200 env steps per
    iteration), as `marl train mappo --env batched:simple_spread_v3` does.
Each side is timed over its training loop only (setup and the final evaluation excluded) and stops at the end of
the iteration during which the budget ran out, so it may overrun by up to one iteration (about 20 s for BenchMARL
here); the table shows the seconds each really trained, and steps/s is env steps over those seconds. Both use
`--threads` torch threads (default 1, as `marl train`).

Env steps: one step of one environment copy (all agents acting), on both sides: BenchMARL's "frames" are exactly
this (its batches have one entry per env copy and time step, the agents inside), and so is our `env_steps`.

Return per agent: each policy is evaluated after training on 64 deterministic episodes of simple_spread (ours on
mpe2 itself, `evaluate(..., deterministic=True)`; BenchMARL's with its own evaluation loop, deterministic actions,
`evaluation_episodes` 64) and scored as the mean over episodes and agents of each agent's episode return under
PettingZoo's reward. BenchMARL's figure needs no conversion once episodes are 25 steps long: torchrl's
PettingZooEnv puts each agent's PettingZoo reward, `rewards[agent]` (which mpe2 computes as 0.5 x the global
reward + 0.5 x that agent's collision penalty), into `("next", "agent", "reward")`, one row per agent of the
single group "agent" (agent_0..agent_2), and BenchMARL's `Logger.log_evaluation` reports
`reward.sum(0).mean()` per episode, the sum over time and then the mean over the agents of the group, then the
mean over groups (one here) and episodes: our per-agent mean episode return. (Checked by replaying one torchrl
episode's actions in a raw `mpe2.simple_spread_v3.parallel_env`: the same per-agent returns to float32 precision.)
With BenchMARL's default of 100 steps the figure would be a 100-step return, not comparable with ours.

The figures are wall-clock on a shared 2-core CPU: steps/s (and so how far each side gets in the budget) move
with whatever else runs on the machine; the returns at a given step count do not. Results and logs go to --out.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _peer_venv import ROOT, PeerVenv, our_python, run_child  # noqa: E402

CHILD = Path(__file__).resolve().parent / "_benchmarl_run.py"
VENV = PeerVenv(".venv-benchmarl", {"torchvision": "0.28.0", "benchmarl": "1.5.2", "torchrl": "0.11.1",
                                    "tensordict": "0.11.0", "pettingzoo": "1.27.0", "mpe2": "1.1.1"})
ENV_ID, EVAL_ENV = "batched:simple_spread_v3", "mpe2:simple_spread_v3"
KWARGS = {"N": 3, "local_ratio": 0.5, "max_cycles": 25, "continuous_actions": False}
EPISODES = 64


def run_benchmarl(seconds: float, seed: int, threads: int, out: Path) -> dict:
    result, log = out / "benchmarl.json", out / "benchmarl.log"
    command = [str(VENV.python), str(CHILD), "--seconds", str(seconds), "--seed", str(seed),
               "--threads", str(threads), "--episodes", str(EPISODES), "--max-cycles", str(KWARGS["max_cycles"]),
               "--out", str(result)]
    return run_child("BenchMARL", command, result, log, 2 * seconds + 900)


def run_ours(seconds: float, seed: int, threads: int, out: Path) -> dict:
    result, log = out / "ours.json", out / "ours.log"
    command = [our_python(), str(Path(__file__).resolve()),
               "--ours-child", str(result), "--seconds", str(seconds), "--seed", str(seed), "--threads", str(threads)]
    return run_child("ours", command, result, log, 2 * seconds + 900)


def ours_child(seconds: float, seed: int, threads: int, out: Path) -> None:
    """Our MAPPO with its defaults, trained one iteration at a time until the budget is spent, then evaluated."""
    sys.path.insert(0, str(ROOT))
    import torch

    from algorithms import make
    from algorithms.training.evaluate import evaluate
    from algorithms.core.seeding import seed_everything
    from algorithms.core.env_registry import make_vec_env

    torch.set_num_threads(threads)
    seed_everything(seed)
    envs = make_vec_env(ENV_ID, KWARGS, 128)  # MAPPO's default copy count on the batched backend
    algo = make("mappo", envs)
    algo.begin(envs.reset(seed=seed))
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        algo.learn(algo.env_steps + 1)  # one iteration (3,200 env steps with the defaults)
    trained = time.perf_counter() - start
    envs.close()
    result = evaluate(algo, EVAL_ENV, KWARGS, episodes=EPISODES, deterministic=True, seed=seed + 999,
                      references=True)
    import importlib.metadata as metadata
    out.write_text(json.dumps({
        "system": "ours MAPPO", "frames": algo.env_steps, "iterations": algo.iterations, "train_seconds": trained,
        "frames_per_s": algo.env_steps / max(trained, 1e-9), "return_mean": result["return_mean"],
        "episodes": EPISODES, "random_return_mean": result["references"]["random"]["mean"],
        "versions": {n: metadata.version(n) for n in ("torch", "pettingzoo", "mpe2")}}, indent=1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=300, help="training wall-clock per system (default 300)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1, help="torch threads on each side (default 1)")
    parser.add_argument("--setup-only", action="store_true", help="only create or check .venv-benchmarl/")
    parser.add_argument("--out", type=Path, default=None,
                        help="folder for logs and results (default runs/benchmarl_compare/<time>)")
    parser.add_argument("--ours-child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.seconds <= 0 or args.threads < 1:
        parser.error("--seconds must be positive and --threads at least 1")
    if args.ours_child:
        ours_child(args.seconds, args.seed, args.threads, args.ours_child)
        return

    out = args.out or ROOT / "runs" / "benchmarl_compare" / time.strftime("%Y%m%d-%H%M%S")
    out.mkdir(parents=True, exist_ok=True)
    versions = VENV.setup_or_exit(out / "setup.log", "BenchMARL")
    if args.setup_only:
        return

    theirs = run_benchmarl(args.seconds, args.seed, args.threads, out)
    ours = run_ours(args.seconds, args.seed, args.threads, out)
    rows = [theirs, ours]
    (out / "results.json").write_text(json.dumps(rows, indent=1))

    print(f"\nsimple_spread (N=3, local_ratio 0.5, 25 steps, discrete), {args.seconds:g} s budget each, seed "
          f"{args.seed}, {args.threads} torch thread(s); wall-clock on a shared 2-core CPU")
    header = f"{'system':<28} {'env steps':>11} {'train s':>8} {'steps/s':>9} {'return/agent':>13}"
    print(header + "\n" + "-" * len(header))
    for name, row in (("BenchMARL " + versions["benchmarl"] + " MAPPO", theirs), ("ours MAPPO", ours)):
        print(f"{name:<28} {row['frames']:>11,} {row['train_seconds']:>8.1f} {row['frames_per_s']:>9,.0f} "
              f"{row['return_mean']:>13.2f}")
    print(f"\nreturn/agent: mean per-agent episode return (PettingZoo's reward) over {EPISODES} deterministic "
          f"episodes after training; a uniform random policy gets {ours['random_return_mean']:.2f}. "
          f"Iterations: BenchMARL {theirs['iterations']} x {theirs['frames_per_batch']:,} frames, "
          f"ours {ours['iterations']}. Results: {out}")


if __name__ == "__main__":
    main()
