"""What a run directory holds and how its config is read (below the registry, so that an algorithm's opponents
can name a run directory). Writing and resuming runs is training/run.py."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import yaml

from algorithms.core.checkpoint import load_checkpoint
from algorithms.errors import MARLError

CHECKPOINT = Path("checkpoints") / "latest.pt"
PREVIOUS_CHECKPOINT = Path("checkpoints") / "previous.pt"  # the one before latest.pt: the fallback if it is damaged


@dataclass
class RunSpec:
    """What `marl train` was asked to do; saved as config.yaml."""

    algo: str
    env: str
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    steps: int = 100_000
    seed: int = 0
    num_envs: int = 0  # 0: the algorithm's default for the backend (AlgorithmConfig.default_num_envs)
    device: str = "auto"
    checkpoint_every: int = 50_000
    checkpoint_seconds: float = 60.0  # also checkpoint after this much training time (a run killed early resumes)
    eval_episodes: int = 32
    eval_deterministic: bool = True  # the final evaluation plays greedy/mean actions; False: sampled ones
    threads: int = 1
    config: dict[str, Any] = field(default_factory=dict)
    forced: list[str] = field(default_factory=list)  # the guard's hard findings `marl train --force` overrode


# Config fields added after runs were already being saved, with the value those runs used. Without this a run
# dir from before the field would resume (or evaluate) with today's default: MAPPO's activation became tanh,
# and a ReLU network's weights would silently run through tanh.
# QMIX's mixer_state_norm too: a QMIX saved before it read the raw state. The value learners' schedule and
# layer_norm came with the parallel (PQN) schedule, their default since 2026-12-08: runs and policies saved
# before trained with replay and agent networks without LayerNorm.
FIELDS_ADDED_LATER = {"activation": "relu", "mixer_state_norm": False, "schedule": "replay", "layer_norm": False}


def backfill_added_fields(config: Any, fields: set[str]) -> None:
    """Give a config saved before a field existed (a run's config.yaml, a policy file) the value it ran with."""
    for name, value in FIELDS_ADDED_LATER.items():
        if name in fields and isinstance(config, dict) and name not in config:
            config[name] = value


def read_spec(run_dir: Path, config_fields: Callable[[str], set[str]] = lambda algo: set()) -> RunSpec:
    """A run directory's config.yaml; `config_fields(algo)` (the algorithm's config field names) lets runs saved
    before a field existed keep the value they ran with."""
    path = run_dir / "config.yaml"
    if not run_dir.exists():
        raise MARLError("missing-run-dir", f"run directory {run_dir} does not exist")
    if not run_dir.is_dir():
        raise MARLError("not-a-run-dir", f"{run_dir} is a file, not a run directory")
    if not path.is_file():
        raise MARLError("not-a-run-dir", f"{run_dir} has no config.yaml", "is it a directory made by marl train?")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        spec = RunSpec(**raw)
    except (yaml.YAMLError, TypeError, UnicodeDecodeError) as err:
        raise MARLError("corrupt-run-dir", f"{path} is damaged or not a run config ({err})") from None
    backfill_added_fields(spec.config, config_fields(spec.algo))
    return spec


def latest_checkpoint(run_dir: Path) -> tuple[dict[str, Any] | None, list[str]]:
    """The newest readable checkpoint of `run_dir`, with a note when a damaged latest.pt was skipped for
    previous.pt; None when the run never wrote one. A damaged latest.pt with no previous.pt is an error."""
    latest, previous = run_dir / CHECKPOINT, run_dir / PREVIOUS_CHECKPOINT
    if not latest.exists() and not previous.exists():
        return None, []
    try:
        return load_checkpoint(latest), []
    except MARLError as err:
        if not previous.exists():
            raise
        return load_checkpoint(previous), [f"{err.message}; continuing from the checkpoint before it "
                                           f"({PREVIOUS_CHECKPOINT})"]


def require_checkpoint(run_dir: Path) -> dict[str, Any]:
    """The newest readable checkpoint of `run_dir` (for evaluating or playing against it), or a MARLError."""
    payload, _ = latest_checkpoint(run_dir)
    if payload is None:
        raise MARLError("missing-checkpoint", f"{run_dir} has no checkpoint yet",
                        f"finish the run first: marl train --resume {run_dir}")
    return payload
