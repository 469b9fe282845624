"""Run directories: create, train with logging and checkpoints, resume, and reload for evaluation.

runs/<algo>-<env>-<timestamp>/
    config.yaml          everything needed to rebuild the run (algorithm, env, seed, config fields)
    metrics.csv          one row per iteration; identical for the same seed on the CPU
    timing.csv           wall clock and steps/s per iteration (kept apart so metrics.csv stays reproducible)
    tensorboard/         TensorBoard events
    checkpoints/latest.pt  networks, optimisers, RNG states, counters, env state (written atomically)
    eval.json            evaluation at the end of training
"""
from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import time

from datetime import datetime
from pathlib import Path
from typing import Any, Callable

import torch
import yaml

from algorithms.errors import EnvError, EnvOutputError, MARLError
from algorithms.base import Algorithm, config_to_dict
from algorithms.core.run_dir import (CHECKPOINT, PREVIOUS_CHECKPOINT, RunSpec, latest_checkpoint,
                                     require_checkpoint)
from algorithms.core.run_dir import read_spec as read_spec_with
from algorithms.registry import config_fields, default_num_envs, get_entry, load_state_checked, make, make_config
from algorithms.core.checkpoint import atomic_write_bytes, save_checkpoint
from algorithms.training.competitive_eval import is_competitive_run, play, random_opponent
from algorithms.training.evaluate import evaluate
from algorithms.core.logger import RunLogger, truncate_after
from algorithms.core.run_lock import RunLock
from algorithms.core.seeding import rng_state, seed_everything, set_rng_state
from algorithms.core.env_registry import make_vec_env



def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise MARLError("no-cuda", "--device cuda was asked for but torch sees no CUDA device",
                           "use --device cpu or --device auto")
    if name not in ("cpu", "cuda"):
        raise MARLError("bad-device", f"unknown device '{name}'", "choose auto, cpu or cuda")
    return torch.device(name)


def default_run_dir(spec: RunSpec, root: Path = Path("runs")) -> Path:
    env_name = re.sub(r"[^A-Za-z0-9_.-]+", "_", spec.env.split(":")[-1])
    return root / f"{spec.algo}-{env_name}-{datetime.now().strftime('%Y%m%d-%H%M%S')}"


def claim_run_dir(run_dir: Path) -> None:
    """Create `run_dir`; refuse one that already holds anything, so no earlier run is overwritten."""
    if run_dir.exists() and (not run_dir.is_dir() or any(run_dir.iterdir())):
        raise MARLError("run-dir-exists", f"{run_dir} already exists and is not empty",
                           f"choose another --out, or continue that run with marl train --resume {run_dir}")
    run_dir.mkdir(parents=True, exist_ok=True)


def read_spec(run_dir: Path) -> RunSpec:
    """A run directory's config.yaml (see core/run_dir.py)."""
    return read_spec_with(run_dir, config_fields)


class Trainer:
    """Builds envs and the algorithm from a RunSpec, trains with logging and checkpoints, evaluates at the end."""

    def __init__(self, spec: RunSpec, run_dir: Path):
        self.spec, self.run_dir = spec, run_dir
        self.config = make_config(spec.algo, spec.config, source="config")
        self.device = resolve_device(spec.device)
        if spec.threads < 1:
            raise MARLError("bad-option", f"--threads must be at least 1, got {spec.threads}")
        # Small networks run fastest on one thread here, and float sums depend on the thread count:
        # fixing it in the run's config keeps a resumed run identical to an uninterrupted one.
        torch.set_num_threads(spec.threads)
        seed_everything(spec.seed)
        if spec.num_envs == 0:  # resolved once and saved in config.yaml, so a resumed run keeps it
            spec.num_envs = default_num_envs(spec.algo, spec.env)
        self.envs = make_vec_env(spec.env, spec.env_kwargs, spec.num_envs)
        self.algo: Algorithm = make(spec.algo, self.envs, self.config, self.device)
        self.env_restored = False  # a resumed run whose env copies were restored mid-episode
        self.resume_step: int | None = None  # the checkpoint a resumed run continues from
        self.notes: list[str] = []  # for the user: what resuming had to do, a budget too small to learn
        self.lock: RunLock | None = None  # held by create() and resume() until train() ends
        starts = getattr(self.config, "learning_starts", 0)
        if spec.steps <= starts:
            self.notes.append(f"--steps {spec.steps:,} ends before {spec.algo} starts learning (learning_starts="
                              f"{starts:,} transitions): the policy will stay untrained; train longer or "
                              f"--set learning_starts=N")

    @classmethod
    def create(cls, spec: RunSpec, run_dir: Path) -> "Trainer":
        """Validate everything, then claim the directory: a bad request leaves nothing behind."""
        trainer = cls(spec, run_dir)
        claim_run_dir(run_dir)
        trainer.lock = RunLock(run_dir)
        spec.config = config_to_dict(trainer.config)
        atomic_write_bytes(run_dir / "config.yaml", yaml.safe_dump(dataclasses.asdict(spec), sort_keys=False).encode())
        return trainer

    @classmethod
    def resume(cls, run_dir: Path, steps: int | None = None) -> "Trainer":
        """Continue from the latest checkpoint (the previous one if the latest is damaged, saying so); a run
        killed before its first checkpoint starts again from step 0 in the same directory."""
        spec = read_spec(run_dir)
        lock = RunLock(run_dir)  # before any file is read or cut: another process may be training this run
        payload, notes = latest_checkpoint(run_dir)  # before anything else: a bad file changes nothing
        if payload is None:
            notes = [f"{run_dir} has no checkpoint yet (the run stopped before its first): starting it again from "
                     "step 0 with the same settings"]
        if steps is not None:
            spec.steps = steps
        trainer = cls(spec, run_dir)
        trainer.lock = lock
        trainer.notes = notes + trainer.notes
        if payload is None:
            for name in ("metrics.csv", "timing.csv", "eval.json"):
                (run_dir / name).unlink(missing_ok=True)
            shutil.rmtree(run_dir / "tensorboard", ignore_errors=True)
            return trainer
        load_state_checked(trainer.algo, payload["algorithm"], f"{run_dir / CHECKPOINT}")
        set_rng_state(payload["rng"])
        trainer.env_restored = trainer.algo.has_env_position()
        trainer.resume_step = trainer.algo.env_steps
        for name in ("metrics.csv", "timing.csv"):  # rows after the checkpoint get written again
            truncate_after(run_dir / name, trainer.algo.env_steps)
        return trainer

    def checkpoint(self) -> None:
        """Write checkpoints/latest.pt atomically, keeping the one before it as previous.pt."""
        state = self.algo.state_dict()
        latest = self.run_dir / CHECKPOINT
        if latest.exists():
            os.replace(latest, self.run_dir / PREVIOUS_CHECKPOINT)
        save_checkpoint(latest, {"algorithm": state, "rng": rng_state(), "algo": self.spec.algo})

    def train(self, on_iteration: Callable[[dict[str, float], float], None] | None = None) -> dict[str, Any]:
        """Train to spec.steps and evaluate; `on_iteration(metrics, steps_per_s)` drives a progress display.
        The run directory is left to other processes afterwards, however training ends."""
        try:
            return self._train(on_iteration)
        finally:
            if self.lock is not None:
                self.lock.release()
                self.lock = None

    def _train(self, on_iteration: Callable[[dict[str, float], float], None] | None) -> dict[str, Any]:
        if not self.env_restored:  # a fresh run, or a resumed one whose envs could not be pickled
            self.algo.begin(self.envs.reset(seed=self.spec.seed + 1000 * self.algo.iterations))
        logger = RunLogger(self.run_dir, resume_step=self.resume_step)
        start, start_steps = time.perf_counter(), self.algo.env_steps
        last_time, last_steps, last_checkpoint = start, start_steps, start
        next_checkpoint = (self.algo.env_steps // self.spec.checkpoint_every + 1) * self.spec.checkpoint_every

        def callback(algo: Algorithm, metrics: dict[str, float]) -> None:
            nonlocal last_time, last_steps, next_checkpoint, last_checkpoint
            now = time.perf_counter()
            sps = (algo.env_steps - last_steps) / max(now - last_time, 1e-9)
            last_time, last_steps = now, algo.env_steps
            logger.log(metrics, {"wall_time": now - start, "steps_per_s": sps})
            # Every checkpoint_every env steps, and every checkpoint_seconds of training: a run killed early
            # loses at most that much. Saving changes no result (resume is exact at any iteration).
            if algo.env_steps >= next_checkpoint or now - last_checkpoint >= self.spec.checkpoint_seconds:
                self.checkpoint()
                last_checkpoint = time.perf_counter()
                while next_checkpoint <= algo.env_steps:
                    next_checkpoint += self.spec.checkpoint_every
            if on_iteration is not None:
                on_iteration(metrics, sps)

        try:
            self.algo.learn(self.spec.steps, callback)
        except EnvError as err:  # say what is kept and how to go on; the checkpoint on disk is untouched
            saved = [p for p in (CHECKPOINT, PREVIOUS_CHECKPOINT) if (self.run_dir / p).exists()]
            err.message += f" (training had taken {self.algo.env_steps:,} env steps)"
            err.hint = ((f"the last checkpoint ({saved[0]}) is kept: `marl train --resume {self.run_dir}` continues "
                         "from it") if saved else "no checkpoint had been written yet") + \
                ("; nothing was trained on the bad output: fix the env so that it returns what its spaces declare"
                 if isinstance(err, EnvOutputError) else "; `marl --debug ...` shows the env's traceback")
            raise
        finally:
            logger.close()
        self.checkpoint()
        elapsed = time.perf_counter() - start
        competitive = is_competitive_run(get_entry(self.spec.algo).config_cls, self.spec.env, self.spec.env_kwargs)
        greedy = self.spec.eval_deterministic
        result = evaluate(self.algo, self.spec.env, self.spec.env_kwargs, self.spec.eval_episodes,
                          deterministic=greedy, seed=self.spec.seed + 10_000, references=not competitive)
        if competitive:
            # Against itself a zero-sum policy always scores 0: random play says how strong it is.
            result["vs_random"] = play(self.algo, self.spec.env, self.spec.env_kwargs,
                                       random_opponent(self.algo.info, self.spec.seed + 10_000),
                                       self.spec.eval_episodes, deterministic=greedy, seed=self.spec.seed + 10_000)
        result.update({"env_steps": self.algo.env_steps, "train_seconds_this_session": elapsed,
                       "train_steps_per_s": (self.algo.env_steps - start_steps) / max(elapsed, 1e-9)})
        atomic_write_bytes(self.run_dir / "eval.json", json.dumps(result, indent=2).encode())
        self.envs.close()
        return result


def load_for_eval(run_dir: Path, device: str = "cpu") -> tuple[RunSpec, Algorithm]:
    """Rebuild a run's algorithm from its config and latest readable checkpoint."""
    spec = read_spec(run_dir)
    payload = require_checkpoint(run_dir)
    spec.device = device
    trainer = Trainer(spec, run_dir)
    load_state_checked(trainer.algo, payload["algorithm"], f"{run_dir / CHECKPOINT}")
    trainer.envs.close()
    return spec, trainer.algo
