"""TD(lambda) targets over stored episodes, for the value-based learners."""
from __future__ import annotations

import torch


def lambda_returns(reward, terminated, next_value, filled, gamma: float, lam: float) -> torch.Tensor:
    """TD(lambda) targets over time-major [T, B, ...] tensors; lam = 0 gives one-step targets.
    `next_value` [T, ...] is the (target) value of the state after step t; `filled` marks real steps, so
    the last real step of each episode bootstraps from its own next value."""
    if lam == 0:  # one-step targets need no pass over time (the loop below gives the same values, slower)
        return reward + gamma * (~terminated).float() * next_value
    out = torch.zeros_like(reward)
    following_filled = torch.cat([filled[1:], torch.zeros_like(filled[:1])])
    for t in reversed(range(reward.shape[0])):
        later = out[t + 1] if t + 1 < reward.shape[0] else next_value[t]
        cont = torch.where(following_filled[t], (1 - lam) * next_value[t] + lam * later, next_value[t])
        out[t] = reward[t] + gamma * (~terminated[t]).float() * cont
    return out
