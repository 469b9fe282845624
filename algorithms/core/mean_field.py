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


# ---------------------------------------------------------------------------------------------------
# What MF-Q and MF-AC share: the neighbourhood, networks per team, Boltzmann action choice


class Neighbourhood:
    """Who counts as agent i's neighbour: its live teammates (teams from a spec, core/teams.py), and, with
    `radius` > 0, only those within that distance, positions read from observation columns `position_columns`
    ("2:4": each agent's own coordinates, as MPE observations carry them at 2:4)."""

    def __init__(self, team_of: list[int], n_actions: int, radius: float, position_columns: str,
                 device: torch.device):
        self.teams = torch.tensor(team_of, dtype=torch.long, device=device)
        self.n_actions, self.radius = n_actions, radius
        self.columns = parse_columns(position_columns) if radius > 0 else None

    def mean_actions(self, obs: torch.Tensor, actions: torch.Tensor, alive: torch.Tensor) -> torch.Tensor:
        """[K, N, A] mean one-hot action of each agent's neighbours; obs [K, N, O], actions, alive [K, N]."""
        positions = obs[..., self.columns[0]: self.columns[1]].float() if self.columns is not None else None
        weights = neighbour_weights(alive, self.teams, positions, self.radius)
        return mean_actions(actions, self.n_actions, weights)


def parse_columns(text: str) -> tuple[int, int]:
    """'2:4' -> (2, 4); raises ValueError with the expected form."""
    start, sep, stop = text.partition(":")
    try:
        first, last = int(start), int(stop)
    except ValueError:
        first, last = 0, 0
    if not sep or first < 0 or last <= first:
        raise ValueError(f"position_columns must look like '2:4' (the observation columns of the agent's own "
                         f"coordinates), got {text!r}")
    return first, last


class TeamNetworks(torch.nn.Module):
    """One network per team, applied to that team's agents: x [..., N, F] -> [..., N, out]. Teams learn
    separately (no shared weights), and within a team all agents share one network, the mean-field premise
    that agents of a kind are interchangeable."""

    def __init__(self, team_of: list[int], build):
        super().__init__()
        teams = sorted(set(team_of))
        self.nets = torch.nn.ModuleList(build() for _ in teams)
        members = [[i for i, t in enumerate(team_of) if t == team] for team in teams]
        order = [i for group in members for i in group]
        self.register_buffer("members_flat", torch.tensor(order, dtype=torch.long), persistent=False)
        self.register_buffer("inverse", torch.argsort(torch.tensor(order)), persistent=False)
        self.sizes = [len(group) for group in members]
        self.contiguous = order == list(range(len(team_of)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if len(self.nets) == 1:
            return self.nets[0](x)
        grouped = x if self.contiguous else x.index_select(-2, self.members_flat)
        out = torch.cat([net(part) for net, part in zip(self.nets, grouped.split(self.sizes, dim=-2))], dim=-2)
        return out if self.contiguous else out.index_select(-2, self.inverse)


def boltzmann(q: torch.Tensor, valid: torch.Tensor, temperature: float) -> torch.Tensor:
    """pi(a) proportional to exp(Q(a) / temperature) over valid actions: q, valid [..., A] -> probabilities."""
    return torch.softmax(q.masked_fill(~valid, -torch.inf) / temperature, dim=-1)
