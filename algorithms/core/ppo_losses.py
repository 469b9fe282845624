"""PPO's clipped surrogate and clipped value loss (Schulman et al. 2017; value clipping as in Yu et al. 2022)."""
from __future__ import annotations

import torch
import torch.nn.functional as F


def masked_mean(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    mask = mask.float()
    return (x * mask).sum() / mask.sum().clamp(min=1.0)


def clipped_surrogate(log_prob: torch.Tensor, old_log_prob: torch.Tensor, advantage: torch.Tensor,
                      clip_eps: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-sample objective min(r A, clip(r, 1-eps, 1+eps) A) to maximise, and the ratio r."""
    ratio = torch.exp(log_prob - old_log_prob)
    return torch.min(ratio * advantage, ratio.clamp(1.0 - clip_eps, 1.0 + clip_eps) * advantage), ratio


def value_loss(value: torch.Tensor, old_value: torch.Tensor, target: torch.Tensor, clip_eps: float,
               clip: bool, huber_delta: float) -> torch.Tensor:
    """Per-sample critic loss: Huber (or squared if huber_delta <= 0), the worse of clipped and unclipped."""

    def err(pred: torch.Tensor) -> torch.Tensor:
        if huber_delta > 0:
            return F.huber_loss(pred, target, reduction="none", delta=huber_delta)
        return 0.5 * (pred - target) ** 2

    if not clip:
        return err(value)
    clipped = old_value + (value - old_value).clamp(-clip_eps, clip_eps)
    return torch.max(err(value), err(clipped))
