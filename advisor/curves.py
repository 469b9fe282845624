"""Read run directories and aggregate their learning curves: the data behind `marl plot` and `marl compare`."""
from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from advisor.errors import AdvisorError, did_you_mean
from algorithms import ALGORITHMS, make_config
from algorithms.base import config_to_dict
from algorithms.training.run import RunSpec, read_spec


def t95(dof: int) -> float:
    """The two-sided 95% Student-t quantile for `dof` degrees of freedom."""
    from scipy.stats import t

    return float(t.ppf(0.975, dof))


@dataclass
class Run:
    path: Path
    spec: RunSpec
    columns: dict[str, np.ndarray]  # metrics.csv, one array per column (NaN where empty)
    timing: dict[str, np.ndarray]   # timing.csv
    evaluation: dict | None         # eval.json, if training finished

    @property
    def config_changes(self) -> list[str]:
        """Every config field that differs from today's default, as key=value."""
        defaults = config_to_dict(make_config(self.spec.algo)) if self.spec.algo in ALGORITHMS else {}
        return [f"{k}={v}" for k, v in sorted(self.spec.config.items()) if k in defaults and defaults[k] != v]

    @property
    def algorithm_changes(self) -> list[str]:
        """The config changes, and a final evaluation with sampled actions (eval.json's figures differ)."""
        return self.config_changes + ([] if self.spec.eval_deterministic else ["eval_deterministic=False"])

    @property
    def settings(self) -> list[str]:
        """What sets this run apart from the algorithm's defaults: env keyword arguments, every config field
        that differs from today's default and a sampled-action evaluation (runs that differ here are not seeds of
        one experiment)."""
        return [f"{k}={v}" for k, v in sorted(self.spec.env_kwargs.items())] + self.algorithm_changes

    @property
    def algorithm_label(self) -> str:
        changes = self.algorithm_changes
        return self.spec.algo + (f" [{', '.join(changes)}]" if changes else "")

    @property
    def env_label(self) -> str:
        kwargs = [f"{k}={v}" for k, v in sorted(self.spec.env_kwargs.items())]
        return self.spec.env + (f" [{', '.join(kwargs)}]" if kwargs else "")

    @property
    def label(self) -> str:
        settings = self.settings
        return f"{self.spec.algo} on {self.spec.env}" + (f" [{', '.join(settings)}]" if settings else "")


def load_run(path: Path) -> Run:
    spec = read_spec(path)
    metrics = path / "metrics.csv"
    if not metrics.is_file():
        raise AdvisorError("no-metrics", f"{path} has no metrics.csv", "has the run finished its first iteration?")
    columns = _read_csv(metrics)
    if not columns or len(columns["env_steps"]) == 0:
        raise AdvisorError("no-metrics", f"{metrics} holds no rows yet")
    timing = _read_csv(path / "timing.csv") if (path / "timing.csv").is_file() else {}
    evaluation = json.loads((path / "eval.json").read_text()) if (path / "eval.json").is_file() else None
    return Run(path, spec, columns, timing, evaluation)


def _read_csv(path: Path) -> dict[str, np.ndarray]:
    with path.open(newline="") as f:
        rows = list(csv.reader(f))
    if not rows:
        return {}
    header, body = rows[0], rows[1:]
    return {name: np.array([float(r[i]) if i < len(r) and r[i] != "" else math.nan for r in body])
            for i, name in enumerate(header)}


def check_metric(runs: list[Run], metric: str) -> None:
    for run in runs:
        if metric not in run.columns:
            names = sorted(run.columns)
            raise AdvisorError("unknown-metric", f"{run.path}/metrics.csv has no column '{metric}'",
                               did_you_mean(metric, names) or f"columns: {', '.join(names)}")


@dataclass
class Curve:
    label: str
    steps: np.ndarray  # [points]
    mean: np.ndarray   # [points]
    low: np.ndarray    # 95% confidence band (equal to mean for a single run)
    high: np.ndarray
    runs: int


def aligned(members: list[Run], metric: str, points: int = 100) -> tuple[np.ndarray, np.ndarray]:
    """The runs' `metric` interpolated onto one env-step grid over the range all of them cover: grid [points],
    values [runs, points]."""
    series = []
    for run in members:
        steps, values = run.columns["env_steps"], run.columns[metric]
        keep = ~np.isnan(values)
        if keep.sum() == 0:
            raise AdvisorError("no-metrics", f"{run.path}: column '{metric}' has no values yet")
        series.append((steps[keep], values[keep]))
    start = max(s[0] for s, _ in series)
    end = min(s[-1] for s, _ in series)
    grid = np.linspace(start, end, points) if end > start else np.array([end])
    return grid, np.stack([np.interp(grid, s, v) for s, v in series])


def aggregate(runs: list[Run], metric: str, points: int = 100) -> list[Curve]:
    """One curve per group of runs with the same algorithm, env, env kwargs and config fields (`Run.label`): the
    runs (seeds) interpolated onto a shared step grid over
    the range all of them cover, then mean and a 95% Student-t confidence band across runs."""
    groups: dict[str, list[Run]] = {}
    for run in runs:
        groups.setdefault(run.label, []).append(run)
    curves = []
    for label, members in groups.items():
        grid, values = aligned(members, metric, points)
        mean = values.mean(axis=0)
        n = len(members)
        if n > 1:
            half = t95(n - 1) * values.std(axis=0, ddof=1) / math.sqrt(n)
        else:
            half = np.zeros_like(mean)
        curves.append(Curve(f"{label} ({n} run{'s' if n > 1 else ''})", grid, mean, mean - half, mean + half, n))
    return curves


def summary(run: Run) -> dict[str, float | str]:
    """Final return (eval.json when present, else the last logged training return), speed and wall time."""
    returns = run.columns.get("charts/return_mean", np.array([math.nan]))
    logged = returns[~np.isnan(returns)]
    final = run.evaluation["return_mean"] if run.evaluation else (float(logged[-1]) if logged.size else math.nan)
    sps = run.timing.get("steps_per_s", np.array([math.nan]))
    steps = run.timing.get("env_steps", np.array([math.nan]))
    # Wall time as the sum of each iteration's duration, so the time before a resume counts too.
    wall = np.diff(steps, prepend=0.0) / sps if sps.size == steps.size else np.array([math.nan])
    return {"run": str(run.path), "algo": run.spec.algo, "env": run.spec.env, "seed": run.spec.seed,
            "settings": ", ".join(run.settings),
            "env_steps": float(run.columns["env_steps"][-1]), "final_return": float(final),
            "return_source": "eval.json" if run.evaluation else "last training episodes",
            "steps_per_s": float(np.nanmean(sps)) if sps.size else math.nan,
            "wall_time_s": float(np.nansum(wall)) if wall.size else math.nan}
