"""Generalised advantage estimation (Schulman et al. 2016) over time-major rollouts."""
from __future__ import annotations

import torch


def compute_gae(rewards: torch.Tensor, values: torch.Tensor, next_values: torch.Tensor,
                terminated: torch.Tensor, episode_end: torch.Tensor, gamma: float, lam: float
                ) -> tuple[torch.Tensor, torch.Tensor]:
    """Advantages and returns (advantages + values), all tensors [T, ...].

    next_values[t] is the value of the observation that followed step t in the same episode: the
    next rollout row normally, the final observation where the episode ended at t (so a time-limit
    truncation bootstraps from it). terminated[t] zeroes that bootstrap; episode_end[t] (terminated
    or truncated or reset) stops the lambda-recursion from leaking into the next episode.
    """
    not_terminal = 1.0 - terminated.float()
    continues = 1.0 - episode_end.float()
    deltas = rewards + gamma * not_terminal * next_values - values
    advantages = torch.zeros_like(values)
    running = torch.zeros_like(values[0])
    for t in reversed(range(values.shape[0])):
        running = deltas[t] + gamma * lam * continues[t] * running
        advantages[t] = running
    return advantages, advantages + values
