"""Running statistics: value normalisation as in MAPPO's ValueNorm (debiased exponential moving averages), and
the running reward standard deviation the value-based learners standardise rewards with."""
from __future__ import annotations

import numpy as np
import torch
from torch import nn


class ValueNorm(nn.Module):
    """Tracks the mean and variance of value targets; the critic learns targets in normalised units.

    Yu et al. (2022) found this essential for MAPPO: returns on MPE vary by orders of magnitude over training.
    """

    def __init__(self, beta: float = 0.99999, epsilon: float = 1e-5):
        super().__init__()
        self.beta, self.epsilon = beta, epsilon
        self.register_buffer("running_mean", torch.zeros(()))
        self.register_buffer("running_mean_sq", torch.zeros(()))
        self.register_buffer("debiasing_term", torch.zeros(()))

    def _stats(self) -> tuple[torch.Tensor, torch.Tensor]:
        debias = self.debiasing_term.clamp(min=self.epsilon)
        mean = self.running_mean / debias
        var = (self.running_mean_sq / debias - mean**2).clamp(min=1e-2)
        return mean, var

    @torch.no_grad()
    def update(self, targets: torch.Tensor) -> None:
        self.running_mean.mul_(self.beta).add_(targets.mean() * (1 - self.beta))
        self.running_mean_sq.mul_(self.beta).add_((targets**2).mean() * (1 - self.beta))
        self.debiasing_term.mul_(self.beta).add_(1 - self.beta)

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        mean, var = self._stats()
        return (x - mean) / var.sqrt()

    def denormalize(self, x: torch.Tensor) -> torch.Tensor:
        mean, var = self._stats()
        return x * var.sqrt() + mean


class RunningStd:
    """Running mean and variance of rewards (Chan et al.'s parallel update), for `standardise_rewards`."""

    def __init__(self) -> None:
        self.count, self.mean, self.m2 = 0, 0.0, 0.0

    def update(self, x: np.ndarray) -> None:
        n, mean = x.size, float(x.mean())
        delta, total = mean - self.mean, self.count + n
        self.m2 += float(((x - mean) ** 2).sum()) + delta**2 * self.count * n / total
        self.mean, self.count = self.mean + delta * n / total, total

    @property
    def std(self) -> float:
        return max((self.m2 / max(self.count, 1)) ** 0.5, 1e-4)
