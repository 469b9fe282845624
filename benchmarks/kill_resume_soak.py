"""Kill-and-resume soak: a training run killed at random moments N times (SIGKILL and SIGINT alternately), resumed
after each kill, must end with the same metrics.csv, TensorBoard scalars and evaluation as a run never interrupted.

    python benchmarks/kill_resume_soak.py                    # N=10 kills of a 6,000-step MAPPO run on mpe2 spread
    python benchmarks/kill_resume_soak.py --kills 20 --algo qmix --steps 4000

Every process is `python -m advisor.cli train ...` with one torch thread, as a user would run it. A kill can land
anywhere: before the run directory exists (the next attempt starts the run afresh), before the first checkpoint
(--resume restarts it in place), during a checkpoint write (the atomic write leaves the previous file), or
mid-iteration. Prints one line per kill and a verdict; exits 1 if anything differs.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

ENV = {**os.environ, "PYTHONUNBUFFERED": "1"}


def marl(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "advisor.cli", *args], capture_output=True, text=True, env=ENV,
                          timeout=timeout)


def scalars(run: Path) -> dict[str, list[tuple[int, float]]]:
    events = EventAccumulator(str(run / "tensorboard")).Reload()  # purged (replayed) steps are dropped here
    return {tag: [(e.step, round(e.value, 6)) for e in events.Scalars(tag)]
            for tag in events.Tags()["scalars"] if not tag.startswith("time/")}


def evaluation(run: Path) -> dict:
    result = json.loads((run / "eval.json").read_text())
    return {k: v for k, v in result.items() if not k.startswith("train_")}  # drop wall-clock fields


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--algo", default="mappo")
    parser.add_argument("--env", default="mpe2:simple_spread_v3")
    parser.add_argument("--steps", type=int, default=6000)
    parser.add_argument("--seed", type=int, default=0, help="seeds the kill times, and the runs")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    train = ["train", args.algo, "--env", args.env, "--steps", str(args.steps), "--seed", str(args.seed),
             "--num-envs", "2", "--checkpoint-every", "400", "--eval-episodes", "4"]
    if args.algo in ("mappo", "ippo"):
        train += ["--set", "rollout_steps=25", "--set", "epochs=2"]
    with tempfile.TemporaryDirectory() as tmp:
        straight, killed = Path(tmp) / "straight", Path(tmp) / "killed"
        start = time.perf_counter()
        done = marl(*train, "--out", str(straight))
        assert done.returncode == 0, done.stdout + done.stderr
        full = time.perf_counter() - start
        print(f"uninterrupted run: {full:.1f} s; killing the other one {args.kills} times at random moments")
        kills = 0
        while True:
            resuming = (killed / "config.yaml").is_file()
            command = ["train", "--resume", str(killed)] if resuming else [*train, "--out", str(killed)]
            if not resuming and killed.exists():  # killed before config.yaml was written: start afresh
                for path in sorted(killed.rglob("*"), reverse=True):
                    path.unlink() if path.is_file() else path.rmdir()
                killed.rmdir()
            if kills >= args.kills:
                final = marl(*command)
                assert final.returncode == 0, final.stdout + final.stderr
                break
            proc = subprocess.Popen([sys.executable, "-m", "advisor.cli", *command], stdout=subprocess.DEVNULL,
                                    stderr=subprocess.PIPE, env=ENV)
            wait = rng.uniform(0.5, full * 0.8)
            try:
                proc.wait(timeout=wait)
            except subprocess.TimeoutExpired:
                sig = signal.SIGKILL if kills % 2 == 0 else signal.SIGINT
                proc.send_signal(sig)
                code = proc.wait()
                kills += 1
                state = "resume" if resuming else "start"
                print(f"  kill {kills:>2}: {sig.name:<7} after {wait:5.1f} s of a {state}; exit code {code}")
                if sig == signal.SIGINT and code not in (130, -signal.SIGINT):
                    print(proc.stderr.read().decode()[-2000:])
                    raise SystemExit(f"SIGINT ended with exit code {code}, expected 130")
                continue
            if proc.returncode != 0:
                raise SystemExit(proc.stderr.read().decode()[-2000:])
            # finished before the kill: go round again (resuming a finished run just re-evaluates it)
        same = {
            "metrics.csv": (killed / "metrics.csv").read_text() == (straight / "metrics.csv").read_text(),
            "tensorboard": scalars(killed) == scalars(straight),
            "eval.json": evaluation(killed) == evaluation(straight),
        }
        print(f"after {kills} kills: " + ", ".join(f"{k} {'identical' if v else 'DIFFERENT'}" for k, v in same.items()))
        if not all(same.values()):
            raise SystemExit(1)


if __name__ == "__main__":
    main()
