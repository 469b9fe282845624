"""Metrics to metrics.csv (deterministic: same seed, same file), timing.csv (wall clock) and TensorBoard."""
from __future__ import annotations

import csv
import math
from pathlib import Path

from torch.utils.tensorboard import SummaryWriter


class RunLogger:
    """Appends one row per training iteration. Columns are fixed by the first row written."""

    def __init__(self, run_dir: Path, tensorboard: bool = True, resume_step: int | None = None):
        """`resume_step`: a resumed run's checkpoint; TensorBoard drops the events a killed run logged after it
        (metrics.csv and timing.csv are cut by truncate_after)."""
        self.metrics_path = run_dir / "metrics.csv"
        self.timing_path = run_dir / "timing.csv"
        # purge_step T hides every event at step >= T: the checkpoint's own step was logged before it was saved.
        purge = resume_step + 1 if resume_step is not None else None
        self.writer = SummaryWriter(str(run_dir / "tensorboard"), purge_step=purge) if tensorboard else None
        self._columns: list[str] | None = _header(self.metrics_path)

    def log(self, metrics: dict[str, float], timing: dict[str, float]) -> None:
        if self._columns is None:
            self._columns = list(metrics)
            _append(self.metrics_path, self._columns, None)
        _append(self.metrics_path, None, [_fmt(metrics.get(c, math.nan)) for c in self._columns])
        if not self.timing_path.exists():
            _append(self.timing_path, ["env_steps", *timing], None)
        _append(self.timing_path, None, [_fmt(metrics["env_steps"]), *(_fmt(v) for v in timing.values())])
        if self.writer is not None:
            step = int(metrics["env_steps"])
            for key, value in {**metrics, **{f"time/{k}": v for k, v in timing.items()}}.items():
                if not math.isnan(value):
                    self.writer.add_scalar(key, value, step)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def truncate_after(path: Path, env_steps: int) -> None:
    """Drop rows logged after `env_steps` (work a killed run did after its last checkpoint)."""
    if not path.exists():
        return
    with path.open(newline="") as f:
        rows = list(csv.reader(f))
    if not rows:
        return
    keep = [rows[0]] + [r for r in rows[1:] if r and float(r[rows[0].index("env_steps")]) <= env_steps]
    with path.open("w", newline="") as f:
        csv.writer(f).writerows(keep)


def logged_env_steps(run_dir: Path) -> int:
    """The env steps of metrics.csv's last row (0 before the first): how far a run in another process has got."""
    path = run_dir / "metrics.csv"
    columns = _header(path)
    if not columns or "env_steps" not in columns:
        return 0
    with path.open("rb") as f:
        f.seek(max(0, f.seek(0, 2) - 4096))
        text = f.read().decode("utf-8", "replace")
    lines = text.splitlines()
    if not text.endswith("\n"):  # the last row is being written: its first field may be cut short
        lines = lines[:-1]
    for line in reversed(lines[1:] if len(lines) > 1 else lines):  # the first may be cut mid-row
        fields = line.split(",")
        try:
            return int(float(fields[columns.index("env_steps")]))
        except (ValueError, IndexError):
            continue  # the header, or a row being written
    return 0


def _header(path: Path) -> list[str] | None:
    if not path.exists():
        return None
    with path.open(newline="") as f:
        return next(csv.reader(f), None)


def _append(path: Path, header: list[str] | None, row: list[str] | None) -> None:
    with path.open("a", newline="") as f:
        csv.writer(f).writerow(header if header is not None else row)


def _fmt(value: float) -> str:
    if isinstance(value, int):
        return str(value)
    return "" if math.isnan(value) else repr(float(value))
