"""Action distributions over [..., N, action_dim] heads: masked categorical (one per component for factorised
actions) and bounded Gaussian."""
from __future__ import annotations

import torch
from torch.distributions import Categorical, Normal


def open_masks(mask: torch.Tensor) -> torch.Tensor:
    """Action masks with all-False rows (padding, absent or dead agents) opened, so max, argmax and softmax over
    them stay finite; those rows' values are masked out of every loss anyway."""
    return mask | ~mask.any(-1, keepdim=True)


class MaskedCategorical:
    """Categorical over the allowed actions only; forbidden actions get probability exactly 0."""

    def __init__(self, logits: torch.Tensor, mask: torch.Tensor):
        self.dist = Categorical(logits=logits.masked_fill(~mask, torch.finfo(logits.dtype).min), validate_args=False)
        self.mask = mask

    def sample(self) -> torch.Tensor:
        return self.dist.sample()

    def mode(self) -> torch.Tensor:
        return self.dist.probs.argmax(-1)

    def log_prob(self, action: torch.Tensor) -> torch.Tensor:
        return self.dist.log_prob(action)

    def entropy(self) -> torch.Tensor:
        p = self.dist.probs
        return -(p * torch.log(p.clamp(min=1e-12)) * self.mask).sum(-1)


class MultiCategorical:
    """Factorised discrete actions (MultiDiscrete): one MaskedCategorical per component over that component's
    slice of the logits and mask ([..., sum(sizes)]); actions [..., C]; log-probabilities and entropies are
    summed over the components (they are sampled independently given the observation)."""

    def __init__(self, logits: torch.Tensor, mask: torch.Tensor, sizes: tuple[int, ...]):
        self.parts = [MaskedCategorical(lg, m) for lg, m in zip(logits.split(sizes, -1), mask.split(sizes, -1))]

    def sample(self) -> torch.Tensor:
        return torch.stack([p.sample() for p in self.parts], -1)

    def mode(self) -> torch.Tensor:
        return torch.stack([p.mode() for p in self.parts], -1)

    def log_prob(self, action: torch.Tensor) -> torch.Tensor:
        return sum(p.log_prob(a) for p, a in zip(self.parts, action.unbind(-1)))

    def entropy(self) -> torch.Tensor:
        return sum(p.entropy() for p in self.parts)


class DiagGaussian:
    """Gaussian over unbounded pre-actions; `to_env` clips to [-1, 1] and rescales into the Box bounds.

    Log-probabilities use the unclipped sample (as in CleanRL and Stable-Baselines3), and sum only over
    the dimensions an agent really has (`dim_mask`), so padded dimensions never affect the loss.
    """

    def __init__(self, mean: torch.Tensor, log_std: torch.Tensor, dim_mask: torch.Tensor):
        self.dist = Normal(mean, log_std.exp().expand_as(mean), validate_args=False)
        self.dim_mask = dim_mask.float()

    def sample(self) -> torch.Tensor:
        return self.dist.sample()

    def mode(self) -> torch.Tensor:
        return self.dist.mean

    def log_prob(self, action: torch.Tensor) -> torch.Tensor:
        return (self.dist.log_prob(action) * self.dim_mask).sum(-1)

    def entropy(self) -> torch.Tensor:
        return (self.dist.entropy() * self.dim_mask).sum(-1)


def to_env_actions(pre_action: torch.Tensor, low: torch.Tensor, high: torch.Tensor) -> torch.Tensor:
    """Map a Gaussian pre-action to the Box: clip to [-1, 1], then rescale to [low, high]."""
    return low + (pre_action.clamp(-1.0, 1.0) + 1.0) * 0.5 * (high - low)
