"""Mean actions for mean-field MARL (Yang et al. 2018, "Mean Field Multi-Agent Reinforcement Learning", Eq. 3):
agent i's Q or critic conditions on the mean of its neighbours' one-hot actions, a vector of fixed size however
many agents there are.

Neighbours of i: the other agents of i's team that are alive, and, where positions are given, within `radius`
(Euclidean) of i. An agent with no neighbour gets the zero vector (its input then says "nobody near"). Agents
are a tensor axis: one batched matrix product, no Python loop over agents.
"""
from __future__ import annotations

import torch


def neighbour_weights(alive: torch.Tensor, teams: torch.Tensor, positions: torch.Tensor | None = None,
                      radius: float | None = None) -> torch.Tensor:
    """[K, N, N] float: w[k, i, j] = 1 when j is a live teammate of i (j != i) within `radius` of i, else 0.
    alive [K, N] bool; teams [N] team index per agent; positions [K, N, D] (with radius) or None."""
    n = teams.shape[0]
    same = (teams[:, None] == teams[None, :]) & ~torch.eye(n, dtype=torch.bool, device=teams.device)  # [N, N]
    w = same[None] & alive[:, None, :]                                                               # [K, N, N]
    if positions is not None and radius is not None:
        w = w & (torch.cdist(positions.float(), positions.float()) <= radius)
    return w.float()


def mean_actions(actions: torch.Tensor, n_actions: int, weights: torch.Tensor) -> torch.Tensor:
    """[K, N, A]: each agent's neighbours' mean one-hot action (zeros without a neighbour).
    actions [K, N] int64 (any value for a dead agent: its weight is 0); weights from neighbour_weights."""
    one_hot = torch.nn.functional.one_hot(actions.clamp(0, n_actions - 1), n_actions).float()     # [K, N, A]
    counts = weights.sum(-1, keepdim=True)                                                          # [K, N, 1]
    return torch.bmm(weights, one_hot) / counts.clamp_min(1.0)
