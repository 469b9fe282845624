"""EPyMARL's QMIX (or VDN) with its own defaults beside ours with our defaults, on Level-Based Foraging 8x8: one table.

    git clone https://github.com/uoe-agents/epymarl .epymarl              # once: EPyMARL's source (git-ignored)
    python benchmarks/epymarl_compare.py --steps 2000000                  # set up (first time), run both, print
    python benchmarks/epymarl_compare.py --steps 2000000 --together       # both at once, one core each
    python benchmarks/epymarl_compare.py --setup-only                     # only create / check .venv-epymarl/
    python benchmarks/epymarl_compare.py --steps 2000000 --side ours --out runs/epymarl_compare/a   # one side

EPyMARL is never a dependency of this project or of its tests. Its source is a checkout (`--epymarl`, default
`.epymarl/` at the root of this repository); the first run creates `.venv-epymarl/` (git-ignored, see
benchmarks/_peer_venv.py) with the CPU torch wheel first, then what EPyMARL's `src/main.py` imports for a
Gymnasium task: sacred 0.8.7, PyYAML 6.0.4 (its requirements.txt pins 5.3.1, from 2020; it only calls
`yaml.load(..., Loader=yaml.FullLoader)`, unchanged in 6), setuptools 80.9.0 (sacred imports `pkg_resources`,
which setuptools 81 removed), numpy 2.4.6, gymnasium 1.4.0 and lbforaging 2.0.0 (the versions our own venv has).
EPyMARL's `envs/__init__.py` imports `smaclite` unconditionally, and smaclite is not on PyPI: the EPyMARL side
gets an empty stand-in module on its PYTHONPATH (written to --out); nothing of smaclite runs on an LBF task.

The task is the same on both sides: `lbforaging:Foraging-8x8-2p-2f-coop-v3` (2 players, 2 foods, cooperative),
50-step episodes (the env's own limit; EPyMARL's `time_limit` set to 50 as in Papoudakis et al. 2021), the same
`--steps` budget of env steps (one step of one env, both agents acting; EPyMARL's `t_env`, our `env_steps`).
  * EPyMARL: `src/main.py --config=ALGO --env-config=gymma with env_args.key=... env_args.time_limit=50
    t_max=STEPS seed=SEED use_cuda=False`: its QMIX defaults (one env copy, 5,000-episode replay, a 32-episode
    batch per episode, epsilon 1 -> 0.05 over 50k steps, double Q, targets every 200 episodes, reward
    standardisation) and its own evaluation, 100 greedy episodes every 50k env steps (`test_interval`,
    `test_nepisode` of qmix.yaml). Its `test_return_mean` is the team return: `common_reward` sums the agents'
    rewards.
  * Ours: `make(ALGO, envs)` with its defaults (the parallel schedule, 128 copies), as `marl train ALGO --env
    lbforaging:Foraging-8x8-2p-2f-coop-v3` does, evaluated the same way: 100 deterministic episodes every 50k env
    steps; the team return is the per-agent mean return times the agent count (2).
Seconds are each side's whole process, start to exit (imports, set-up and its periodic evaluations included, on
both sides alike); steps/s is env steps over them. "final" is the team return of the last evaluation, "last 5"
the mean of the last five (the last 250k env steps). Both sides use one torch thread (OMP_NUM_THREADS=1).
By default the sides run one after the other; `--together` runs them at the same time, each pinned to its own
core where `taskset` exists (the 2-core machine then has nothing else to give either side). The figures are
wall-clock on a shared machine: do not run other jobs meanwhile. Results and logs go to --out.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _peer_venv import ROOT, PeerVenv, our_python, run_child  # noqa: E402

VENV = PeerVenv(".venv-epymarl", {"sacred": "0.8.7", "PyYAML": "6.0.4", "setuptools": "80.9.0", "numpy": "2.4.6",
                                  "gymnasium": "1.4.0", "lbforaging": "2.0.0"})
ENV_ID = "lbforaging:Foraging-8x8-2p-2f-coop-v3"
TIME_LIMIT, TEST_EPISODES, TEST_INTERVAL = 50, 100, 50_000


def epymarl_side(checkout: Path, algo: str, steps: int, seed: int, out: Path, cpu: int | None) -> dict:
    """Run EPyMARL's main.py; read its evaluations from the sacred run it wrote."""
    shim = out / "shim"
    shim.mkdir(parents=True, exist_ok=True)
    (shim / "smaclite.py").write_text("# empty stand-in: EPyMARL imports smaclite at start-up; LBF never uses it\n")
    sacred = checkout / "results" / "sacred" / algo / ENV_ID
    before = set(sacred.glob("*")) if sacred.exists() else set()
    command = [str(VENV.python), "src/main.py", f"--config={algo}", "--env-config=gymma", "with",
               f"env_args.key={ENV_ID}", f"env_args.time_limit={TIME_LIMIT}", f"t_max={steps}", f"seed={seed}",
               "use_cuda=False"]
    log, result = out / "epymarl.log", out / "epymarl.json"
    start = time.perf_counter()
    _run(command, log, checkout, {"PYTHONPATH": str(shim)}, cpu, timeout=steps / 100 + 900)
    seconds = time.perf_counter() - start
    runs = sorted(set(sacred.glob("*")) - before, key=lambda p: p.stat().st_mtime) if sacred.exists() else []
    if not runs or not (runs[-1] / "info.json").exists():
        sys.exit(f"error: EPyMARL finished but wrote no sacred run under {sacred}; see {log}")
    info = json.loads((runs[-1] / "info.json").read_text())
    evals = [(int(t), float(v["value"] if isinstance(v, dict) else v))
             for t, v in zip(info["test_return_mean_T"], info["test_return_mean"])]
    row = {"system": f"EPyMARL {algo.upper()}", "env_steps": steps, "seconds": seconds, "evaluations": evals,
           "sacred_run": str(runs[-1])}
    result.write_text(json.dumps(row, indent=1))
    return row


def ours_side(algo: str, steps: int, seed: int, out: Path, cpu: int | None) -> dict:
    log, result = out / "ours.log", out / "ours.json"
    command = [our_python(), str(Path(__file__).resolve()), "--ours-child", str(result), "--algo", algo,
               "--steps", str(steps), "--seed", str(seed)]
    start = time.perf_counter()
    _run(command, log, ROOT, {}, cpu, timeout=steps / 100 + 900)
    row = json.loads(result.read_text())
    row["seconds"] = time.perf_counter() - start
    result.write_text(json.dumps(row, indent=1))
    return row


def _run(command: list[str], log: Path, cwd: Path, env: dict, cpu: int | None, timeout: float) -> None:
    if cpu is not None and shutil.which("taskset"):
        command = ["taskset", "-c", str(cpu), *command]
    run_child(log.stem, command, None, log, timeout, cwd=cwd, env=env)


def ours_child(algo: str, steps: int, seed: int, result: Path) -> None:
    """Our learner with its defaults, evaluated like EPyMARL evaluates: 100 greedy episodes every 50k env steps."""
    sys.path.insert(0, str(ROOT))
    import torch

    from algorithms import make
    from algorithms.core.env_registry import make_vec_env
    from algorithms.core.seeding import seed_everything
    from algorithms.registry import default_num_envs
    from algorithms.training.evaluate import evaluate

    torch.set_num_threads(1)
    seed_everything(seed)
    copies = default_num_envs(algo, ENV_ID)
    envs = make_vec_env(ENV_ID, {}, copies)
    learner = make(algo, envs, seed=seed)
    learner.begin(envs.reset(seed=seed))
    evals = []
    while learner.env_steps < steps:
        learner.learn(min(learner.env_steps + TEST_INTERVAL, steps))
        score = evaluate(learner, ENV_ID, {}, episodes=TEST_EPISODES, deterministic=True, seed=seed + 999)
        evals.append((learner.env_steps, score["return_mean"] * learner.info.n_agents))  # the team return
        print(f"{learner.env_steps:>9,} env steps: team return {evals[-1][1]:.3f}", flush=True)
    envs.close()
    result.write_text(json.dumps({"system": f"ours {algo.upper()} ({copies} copies)", "env_steps": learner.env_steps,
                                  "evaluations": evals}, indent=1))


def table(rows: list[dict], steps: int, seed: int) -> None:
    print(f"\nLBF {ENV_ID.split(':')[1]}, {steps:,} env steps, seed {seed}, one torch thread each; "
          "wall-clock on a shared 2-core CPU")
    header = f"{'system':<28} {'env steps':>11} {'seconds':>8} {'steps/s':>8} {'final':>6} {'last 5':>7}"
    print(header + "\n" + "-" * len(header))
    for row in rows:
        values = [v for _, v in row["evaluations"]]
        print(f"{row['system']:<28} {row['env_steps']:>11,} {row['seconds']:>8.0f} "
              f"{row['env_steps'] / row['seconds']:>8,.0f} {values[-1]:>6.3f} {sum(values[-5:]) / len(values[-5:]):>7.3f}")
    if len(rows) == 2:
        print(f"\nours is x{rows[0]['seconds'] / rows[1]['seconds']:.2f} EPyMARL's wall-clock speed (its seconds / ours)")
    print("final / last 5: team return (sum over both players) of the last evaluation / the mean of the last five; "
          f"{TEST_EPISODES} greedy episodes each, every {TEST_INTERVAL:,} env steps.")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=2_000_000, help="env steps per side (default 2,000,000)")
    parser.add_argument("--algo", default="qmix", choices=["qmix", "vdn"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epymarl", type=Path, default=ROOT / ".epymarl", help="EPyMARL checkout (default .epymarl/)")
    parser.add_argument("--side", choices=["both", "epymarl", "ours"], default="both",
                        help="run one side only; the table shows whatever sides --out holds")
    parser.add_argument("--together", action="store_true", help="run both sides at once, one core each")
    parser.add_argument("--setup-only", action="store_true", help="only create or check .venv-epymarl/")
    parser.add_argument("--out", type=Path, help="folder for logs and results (default runs/epymarl_compare/<time>)")
    parser.add_argument("--ours-child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.steps < TEST_INTERVAL:
        parser.error(f"--steps must be at least {TEST_INTERVAL:,} (one evaluation interval)")
    if args.ours_child:
        ours_child(args.algo, args.steps, args.seed, args.ours_child)
        return
    if args.side != "ours" and not (args.epymarl / "src" / "main.py").exists():
        sys.exit(f"error: no EPyMARL checkout at {args.epymarl} (no src/main.py); clone it there with\n"
                 f"  git clone https://github.com/uoe-agents/epymarl {args.epymarl}\nor pass --epymarl PATH")
    out = args.out or ROOT / "runs" / "epymarl_compare" / time.strftime("%Y%m%d-%H%M%S")
    out.mkdir(parents=True, exist_ok=True)
    if args.side != "ours":
        VENV.setup_or_exit(out / "setup.log", "EPyMARL")
    if args.setup_only:
        return

    sides = {"epymarl": lambda cpu: epymarl_side(args.epymarl.resolve(), args.algo, args.steps, args.seed, out, cpu),
             "ours": lambda cpu: ours_side(args.algo, args.steps, args.seed, out, cpu)}
    wanted = list(sides) if args.side == "both" else [args.side]
    if args.together and len(wanted) == 2:
        failures: list[str] = []

        def side(name: str, cpu: int) -> None:
            try:
                sides[name](cpu)
            except SystemExit as err:  # a failed side exits with its message; in a thread that must be kept
                failures.append(str(err))

        threads = [threading.Thread(target=side, args=(name, cpu % (os.cpu_count() or 1)))
                   for cpu, name in enumerate(wanted)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if failures:
            sys.exit("\n".join(failures))
    else:
        for name in wanted:
            sides[name](None)
    rows = [json.loads((out / f"{name}.json").read_text()) for name in ("epymarl", "ours")
            if (out / f"{name}.json").exists()]
    (out / "results.json").write_text(json.dumps(rows, indent=1))
    table(rows, args.steps, args.seed)
    print(f"Results: {out}")


if __name__ == "__main__":
    main()
