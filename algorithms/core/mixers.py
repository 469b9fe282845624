"""Mixers: per-agent utilities Q_i -> a team value Q_tot, for the value-decomposition learner.

Every mixer takes the same arguments, with any number of leading batch axes `...`:
    q        [..., N]     the utility of the action each agent took (or is evaluated at)
    state    [..., S]     the global state
    q_max    [..., N]     each agent's greedy utility max_a Q_i (QPLEX's V_i; ignored by VDN and QMIX)
    actions  [..., N, A]  one-hot joint action (QPLEX's lambda weights; ignored by VDN and QMIX)
and returns Q_tot [...].
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class VDNMixer(nn.Module):
    """Sunehag et al. 2018: Q_tot = sum_i Q_i. No parameters, no state."""

    def forward(self, q, state, q_max=None, actions=None) -> torch.Tensor:
        return q.sum(-1)


def hypernet(state_dim: int, hidden: int, out: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(state_dim, hidden), nn.ReLU(), nn.Linear(hidden, out))


class QMixer(nn.Module):
    """Rashid et al. 2018: a one-hidden-layer mixing network whose weights are produced from the state
    by hypernetworks and made non-negative by an absolute value, so dQ_tot/dQ_i >= 0 (monotonic: each
    agent's greedy action is the team's). ELU is increasing, so the composition stays monotonic; the
    biases depend on the state freely (the final one through a small V(s) network, as in the paper)."""

    def __init__(self, n_agents: int, state_dim: int, embed: int = 32, hidden: int = 64):
        super().__init__()
        self.n_agents, self.embed = n_agents, embed
        self.w1 = hypernet(state_dim, hidden, n_agents * embed)
        self.b1 = nn.Linear(state_dim, embed)
        self.w2 = hypernet(state_dim, hidden, embed)
        self.v = hypernet(state_dim, embed, 1)

    def forward(self, q, state, q_max=None, actions=None) -> torch.Tensor:
        w1 = self.w1(state).abs().view(*state.shape[:-1], self.n_agents, self.embed)  # [..., N, E] >= 0
        hidden = F.elu((q.unsqueeze(-2) @ w1).squeeze(-2) + self.b1(state))          # [..., E]
        w2 = self.w2(state).abs()                                                      # [..., E] >= 0
        return (hidden * w2).sum(-1) + self.v(state).squeeze(-1)


class QPLEXMixer(nn.Module):
    """Wang et al. 2021, duplex dueling. Individual utilities become Q_i = V_i + A_i with V_i = max_a Q_i,
    A_i = Q_i - V_i <= 0. A state-conditioned positive transform w_i(s) > 0, b_i(s) gives
    V_i(s) = w_i V_i + b_i and A_i(s, a_i) = w_i A_i, and the team value is

        Q_tot(s, a) = sum_i V_i(s) + sum_i lambda_i(s, a) A_i(s, a_i),   lambda_i(s, a) > 0.

    The lambda weights depend on the joint action, which is what lets Q_tot represent non-monotonic
    payoffs while keeping IGM (at the agents' greedy actions every A_i = 0, elsewhere the sum is <= 0).
    They come from the paper's multi-head attention module (Eq. 10), as the authors' `DMAQ_SI_Weight` computes
    it: for head k, a positive head weight v_k(s) = |key_k(s)|, a per-agent weight phi_ik(s) = sigmoid(g_ik(s))
    and a positive action term sigmoid(f_ik(s, a)):  lambda_i = sum_k v_k phi_ik sigmoid(f_ik). The phi_ik are
    independent sigmoids, not a softmax over agents: a softmax would make the agents' weights compete (they
    would sum to 1 per head) and shrink every lambda_i as the number of agents grows.

    Computed, as in the authors' released code, as sum_i Q_i(s, a_i) + sum_i (lambda_i - 1) A_i(s, a_i)
    with the advantages detached in the second sum: the same value, but utilities learn through the
    additive term and the lambda weights only reshape the non-greedy entries. Measured here on the
    non-monotonic matrix: without the detach the utilities often stay stuck on the safe 0 block."""

    def __init__(self, n_agents: int, state_dim: int, n_actions: int, heads: int = 4, hidden: int = 64):
        super().__init__()
        self.n_agents, self.heads = n_agents, heads
        self.weight = hypernet(state_dim, hidden, n_agents)  # w_i(s) before |.|
        self.bias = hypernet(state_dim, hidden, n_agents)    # b_i(s)
        self.agent_term = hypernet(state_dim, hidden, heads * n_agents)  # g_ik(s)
        self.head_weight = hypernet(state_dim, hidden, heads)
        self.action_term = hypernet(state_dim + n_agents * n_actions, hidden, heads * n_agents)

    def lambdas(self, state: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """[..., N] positive, joint-action-dependent advantage weights."""
        lead, h, n = state.shape[:-1], self.heads, self.n_agents
        phi = torch.sigmoid(self.agent_term(state)).view(*lead, h, n)          # [..., H, N] in (0, 1)
        v = self.head_weight(state).abs() + 1e-10                              # [..., H] > 0
        joint = torch.cat([state, actions.flatten(-2)], dim=-1)
        f = torch.sigmoid(self.action_term(joint)).view(*lead, h, n)          # [..., H, N]
        return (v.unsqueeze(-1) * phi * f).sum(-2)                             # [..., N]

    def forward(self, q, state, q_max=None, actions=None) -> torch.Tensor:
        w = self.weight(state).abs() + 1e-10                                   # [..., N] > 0
        utilities = w * q + self.bias(state)                                   # Q_i(s, a_i)
        advantages = (w * (q - q_max)).detach()                                # A_i(s, a_i) <= 0
        return utilities.sum(-1) + ((self.lambdas(state, actions) - 1) * advantages).sum(-1)


class StateNormalised(nn.Module):
    """A state-conditioned mixer that reads the state through a LayerNorm, as MAPPO's critic reads its inputs:
    raw features of a large scale (LBF's coordinates and levels, up to 10) otherwise set the scale of the
    hypernetworks' outputs, and so of the mixing weights."""

    def __init__(self, mixer: nn.Module, state_dim: int):
        super().__init__()
        self.norm, self.mixer = nn.LayerNorm(state_dim), mixer

    def forward(self, q, state, q_max=None, actions=None) -> torch.Tensor:
        return self.mixer(q, self.norm(state), q_max, actions)


def make_mixer(kind: str, n_agents: int, state_dim: int, n_actions: int, embed: int, hidden: int,
               heads: int, state_norm: bool = False) -> nn.Module | None:
    """The registry of mixers; 'none' (IQL) has no mixer: each agent learns from its own reward.
    `state_norm` puts a LayerNorm before the state-conditioned ones (QMIX, QPLEX), unless the state has a single
    feature, which a LayerNorm would turn into a constant."""
    if kind == "none":
        return None
    if kind == "vdn":
        return VDNMixer()
    if kind == "qmix":
        mixer = QMixer(n_agents, state_dim, embed, hidden)
    elif kind == "qplex":
        mixer = QPLEXMixer(n_agents, state_dim, n_actions, heads, hidden)
    else:
        raise ValueError(f"unknown mixer '{kind}'")
    return StateNormalised(mixer, state_dim) if state_norm and state_dim > 1 else mixer


def team_value(mixer: nn.Module, q: torch.Tensor, action: torch.Tensor, valid: torch.Tensor, live: torch.Tensor,
               state: torch.Tensor) -> torch.Tensor:
    """Q_tot [...] of utilities q [..., N, A] at actions [..., N] (valid [..., N, A]: the open actions). Agents
    not in the episode (dead, or not arrived yet: live [..., N] = 0) contribute nothing to the team's value."""
    q_at = q.gather(-1, action.unsqueeze(-1)).squeeze(-1)
    q_max = q.masked_fill(~valid, -torch.inf).max(-1).values
    return mixer(q_at * live, state, q_max * live, F.one_hot(action, q.shape[-1]) * live[..., None])


def team_done(terminated: torch.Tensor, alive: torch.Tensor) -> torch.Tensor:
    """Whether the team's episode terminated at each step [...] (terminated, alive [..., N]): when every agent
    still in it has terminated. (The team's reward is the agents' mean, their common reward in cooperative games.)"""
    return (terminated | ~alive).all(-1) & terminated.any(-1)
