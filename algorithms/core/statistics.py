"""Statistics over seeds (Agarwal et al. 2021, "Deep RL at the Edge of the Statistical Precipice"): the mean, the
interquartile mean and percentile-bootstrap confidence intervals, in NumPy."""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np


def iqm(values: Sequence[float]) -> float:
    """The interquartile mean: the mean of the middle half, int(n / 4) values cut from each end (as
    scipy.stats.trim_mean(x, 0.25), which rliable uses). Robust to one outlying seed, less noisy than the median."""
    x = np.sort(np.asarray(values, np.float64))
    cut = int(0.25 * len(x))
    return float(x[cut: len(x) - cut].mean())


def bootstrap_ci(values: Sequence[float], statistic: Callable[[np.ndarray], float] = np.mean,
                 level: float = 0.95, reps: int = 2000, seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval of `statistic` over the values (seeds resampled with replacement).
    One value gives a zero-width interval: there is nothing to resample."""
    x = np.asarray(values, np.float64)
    if len(x) == 0:
        raise ValueError("no values")
    rng = np.random.default_rng(seed)
    draws = x[rng.integers(0, len(x), size=(reps, len(x)))]
    stats = np.array([statistic(row) for row in draws])
    tail = (1 - level) / 2
    return float(np.quantile(stats, tail)), float(np.quantile(stats, 1 - tail))


def stratified_bootstrap_ci(groups: Sequence[Sequence[float]], statistic: Callable[[np.ndarray], float] | None = None,
                            level: float = 0.95, reps: int = 2000, seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap of `statistic` (default: IQM) over the pooled values of several groups (tasks), each
    group's runs resampled within the group (Agarwal et al. 2021): every task keeps its weight in every draw."""
    statistic = statistic or iqm
    xs = [np.asarray(g, np.float64) for g in groups if len(g)]
    if not xs:
        raise ValueError("no values")
    rng = np.random.default_rng(seed)
    stats = np.array([statistic(np.concatenate([x[rng.integers(0, len(x), len(x))] for x in xs]))
                      for _ in range(reps)])
    tail = (1 - level) / 2
    return float(np.quantile(stats, tail)), float(np.quantile(stats, 1 - tail))


def summarise(values: Sequence[float], seed: int = 0) -> dict[str, object]:
    """mean, IQM, the 95% bootstrap interval of the IQM, and n."""
    lo, hi = bootstrap_ci(values, iqm, seed=seed)
    return {"mean": float(np.mean(values)), "iqm": iqm(values), "ci95": [lo, hi], "n": len(values)}


def probability_of_improvement(x: Sequence[float], y: Sequence[float]) -> float:
    """P(X > Y): the chance that a run of X beats a run of Y, ties counting half (the Mann-Whitney U statistic
    over n x m pairs, as Agarwal et al. 2021 compute it per task)."""
    a, b = np.asarray(x, np.float64)[:, None], np.asarray(y, np.float64)[None, :]
    return float(((a > b) + 0.5 * (a == b)).mean())


def performance_profile(scores: Sequence[float], thresholds: Sequence[float]) -> np.ndarray:
    """The fraction of runs whose (normalised) score exceeds each threshold: one point of the profile each."""
    x = np.asarray(scores, np.float64)
    return np.array([(x > t).mean() for t in thresholds])


def iqm_curve(values: np.ndarray, seed: int = 0, reps: int = 500) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """values [runs, points] -> the IQM over runs at each point, and its 95% bootstrap band (runs resampled)."""
    rng = np.random.default_rng(seed)
    centre = np.array([iqm(column) for column in values.T])
    draws = values[rng.integers(0, len(values), size=(reps, len(values)))]  # [reps, runs, points]
    cut = int(0.25 * len(values))
    ordered = np.sort(draws, axis=1)[:, cut: len(values) - cut]
    boot = ordered.mean(axis=1)                                               # [reps, points]
    return centre, np.quantile(boot, 0.025, axis=0), np.quantile(boot, 0.975, axis=0)
