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


def summarise(values: Sequence[float], seed: int = 0) -> dict[str, object]:
    """mean, IQM, the 95% bootstrap interval of the IQM, and n."""
    lo, hi = bootstrap_ci(values, iqm, seed=seed)
    return {"mean": float(np.mean(values)), "iqm": iqm(values), "ci95": [lo, hi], "n": len(values)}
