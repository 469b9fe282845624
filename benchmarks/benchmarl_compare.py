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
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VENV = ROOT / ".venv-benchmarl"
VENV_PYTHON = VENV / "bin" / "python"
CHILD = Path(__file__).resolve().parent / "_benchmarl_run.py"
# Installed in this order: torch alone first (the local CPU wheel), then the rest with torch pinned again so that
# the resolver can never swap it for a CUDA build.
TORCH = {"torch": "2.13.0"}
PINS = {"torchvision": "0.28.0", "benchmarl": "1.5.2", "torchrl": "0.11.1", "tensordict": "0.11.0",
        "pettingzoo": "1.27.0", "mpe2": "1.1.1"}
MARKER = VENV / "benchmarl-compare.json"  # the pins a finished setup installed
ENV_ID, EVAL_ENV = "batched:simple_spread_v3", "mpe2:simple_spread_v3"
KWARGS = {"N": 3, "local_ratio": 0.5, "max_cycles": 25, "continuous_actions": False}
EPISODES = 64


class SetupError(Exception):
    """The BenchMARL venv could not be set up; the message says why and what to do."""


def _tail(path: Path, lines: int = 15) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError:
        return "(no log)"
    return "\n".join("    " + line for line in text[-lines:])


def _spec(pins: dict[str, str]) -> list[str]:
    return [f"{name}=={version}" for name, version in pins.items()]


def installed_versions() -> dict[str, str] | None:
    """The versions of the pinned packages in .venv-benchmarl (None if its Python does not run)."""
    names = [*TORCH, *PINS]
    code = ("import importlib.metadata as m, json\n"
            f"out = {{}}\nfor n in {names!r}:\n"
            "    try: out[n] = m.version(n)\n"
            "    except m.PackageNotFoundError: out[n] = None\n"
            "print(json.dumps(out))")
    try:
        done = subprocess.run([str(VENV_PYTHON), "-c", code], capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if done.returncode != 0:
        return None
    return json.loads(done.stdout.strip().splitlines()[-1])


def _matches(versions: dict[str, str] | None) -> bool:
    if not versions:
        return False
    wanted = {**TORCH, **PINS}
    # torch reports local versions such as 2.13.0+cpu
    return all((versions.get(n) or "").split("+")[0] == v for n, v in wanted.items())


def setup_venv(log: Path) -> dict[str, str]:
    """Create or reuse .venv-benchmarl; returns the installed versions. Raises SetupError."""
    if MARKER.exists() and _matches(versions := installed_versions()):
        print(f"reusing {VENV.relative_to(ROOT)}/", flush=True)
        return versions
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "w") as out:
        def step(what: str, command: list[str]) -> None:
            print(f"  {what} ...", flush=True)
            out.write(f"$ {' '.join(command)}\n")
            out.flush()
            try:
                done = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT, timeout=1800)
            except FileNotFoundError as err:
                raise SetupError(f"{what} failed: {err}") from None
            except subprocess.TimeoutExpired:
                raise SetupError(f"{what} took over 30 minutes and was stopped; see {log}") from None
            if done.returncode != 0:
                raise SetupError(f"{what} failed (exit {done.returncode}); the end of {log}:\n{_tail(log)}")

        print(f"setting up {VENV.relative_to(ROOT)}/ (log: {log})", flush=True)
        if not VENV_PYTHON.exists():
            # from inside a venv, -m venv builds on that venv's base interpreter
            step(f"creating {VENV.name} with {sys.executable}", [sys.executable, "-m", "venv", str(VENV)])
        pip = [str(VENV_PYTHON), "-m", "pip", "install", "--disable-pip-version-check"]
        step(f"installing {' '.join(_spec(TORCH))} (CPU wheel, first)", [*pip, *_spec(TORCH)])
        step(f"installing {' '.join(_spec(PINS))}", [*pip, *_spec(TORCH), *_spec(PINS)])
    versions = installed_versions()
    if not _matches(versions):
        raise SetupError(f"{VENV.name} has {versions}, not the pinned {dict(TORCH, **PINS)}; "
                         f"delete {VENV} and run again (log: {log})")
    MARKER.write_text(json.dumps(versions, indent=1))
    return versions


def run_benchmarl(seconds: float, seed: int, threads: int, out: Path) -> dict:
    result, log = out / "benchmarl.json", out / "benchmarl.log"
    command = [str(VENV_PYTHON), str(CHILD), "--seconds", str(seconds), "--seed", str(seed),
               "--threads", str(threads), "--episodes", str(EPISODES), "--max-cycles", str(KWARGS["max_cycles"]),
               "--out", str(result)]
    return _child("BenchMARL", command, result, log, seconds)


def run_ours(seconds: float, seed: int, threads: int, out: Path) -> dict:
    result, log = out / "ours.json", out / "ours.log"
    python = ROOT / ".venv" / "bin" / "python"
    command = [str(python if python.exists() else sys.executable), str(Path(__file__).resolve()),
               "--ours-child", str(result), "--seconds", str(seconds), "--seed", str(seed), "--threads", str(threads)]
    return _child("ours", command, result, log, seconds)


def _child(name: str, command: list[str], result: Path, log: Path, seconds: float) -> dict:
    print(f"running {name} for {seconds:g} s (log: {log})", flush=True)
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "RL_WARNINGS": "False", "OMP_NUM_THREADS": "1"}
    result.unlink(missing_ok=True)
    with open(log, "w") as out:
        try:
            done = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=ROOT,
                                  timeout=2 * seconds + 900)
        except subprocess.TimeoutExpired:
            sys.exit(f"error: the {name} run did not finish in {2 * seconds + 900:g} s; see {log}")
    if done.returncode != 0 or not result.exists():
        sys.exit(f"error: the {name} run failed (exit {done.returncode}); the end of {log}:\n{_tail(log)}")
    return json.loads(result.read_text())


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
    try:
        versions = setup_venv(out / "setup.log")
    except SetupError as err:
        sys.exit(f"error: could not set up BenchMARL's venv: {err}")
    print("BenchMARL venv: " + ", ".join(f"{n} {v}" for n, v in versions.items()), flush=True)
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
