"""Network pieces that keep agents as a tensor axis: inputs are [..., N, features].

`n_agents=None` shares one set of weights across agents (parameter sharing); an int gives each
agent its own weights, still computed in one batched einsum rather than a loop over agents.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


class AgentLinear(nn.Module):
    """y = x W + b on the last axis, with W shared or per agent (x: [..., N, in_features])."""

    def __init__(self, in_features: int, out_features: int, n_agents: int | None, gain: float = math.sqrt(2)):
        super().__init__()
        self.shared = n_agents is None
        copies = 1 if self.shared else n_agents
        weight = torch.empty(copies, in_features, out_features)
        for w in weight:  # orthogonal initialisation per agent (Yu et al. 2022 use it throughout)
            w.copy_(nn.init.orthogonal_(torch.empty(out_features, in_features), gain=gain).T)
        self.weight = nn.Parameter(weight.squeeze(0) if self.shared else weight)
        self.bias = nn.Parameter(torch.zeros(out_features) if self.shared else torch.zeros(copies, out_features))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.shared:
            return x @ self.weight + self.bias
        return torch.einsum("...ni,nio->...no", x, self.weight) + self.bias


class AgentLayerNorm(nn.Module):
    """LayerNorm over features with an affine transform shared or per agent."""

    def __init__(self, features: int, n_agents: int | None):
        super().__init__()
        shape = (features,) if n_agents is None else (n_agents, features)
        self.features = features
        self.weight = nn.Parameter(torch.ones(shape))
        self.bias = nn.Parameter(torch.zeros(shape))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.layer_norm(x, (self.features,)) * self.weight + self.bias


ACTIVATIONS = {"relu": (nn.ReLU, math.sqrt(2)), "tanh": (nn.Tanh, 5 / 3)}  # module, orthogonal-init gain


class MLP(nn.Module):
    """LayerNorm on the inputs (MAPPO's feature normalisation), then `layers` x (linear, activation),
    each hidden layer followed by a LayerNorm when `layer_norm` (as marlbenchmark/on-policy's MLP)."""

    def __init__(self, in_features: int, hidden: int, layers: int, n_agents: int | None,
                 activation: str = "relu", layer_norm: bool = False):
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(f"unknown activation {activation!r}; choose one of {', '.join(ACTIVATIONS)}")
        module, gain = ACTIVATIONS[activation]
        blocks: list[nn.Module] = [AgentLayerNorm(in_features, n_agents)]
        width = in_features
        for _ in range(layers):
            blocks += [AgentLinear(width, hidden, n_agents, gain=gain), module()]
            if layer_norm:
                blocks.append(AgentLayerNorm(hidden, n_agents))
            width = hidden
        self.net = nn.Sequential(*blocks)
        self.out_features = width

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class AgentGRUCell(nn.Module):
    """A GRU cell (Cho et al. 2014) built from AgentLinear, so it works shared or per agent."""

    def __init__(self, in_features: int, hidden: int, n_agents: int | None):
        super().__init__()
        self.hidden = hidden
        self.input_gates = AgentLinear(in_features, 3 * hidden, n_agents, gain=1.0)
        self.hidden_gates = AgentLinear(hidden, 3 * hidden, n_agents, gain=1.0)

    def forward(self, x: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        xr, xz, xn = self.input_gates(x).chunk(3, dim=-1)
        hr, hz, hn = self.hidden_gates(h).chunk(3, dim=-1)
        r, z = torch.sigmoid(xr + hr), torch.sigmoid(xz + hz)
        n = torch.tanh(xn + r * hn)
        return (1 - z) * n + z * h


class Torso(nn.Module):
    """MLP, optionally followed by a GRU. `forward_sequence` runs a [T, B, N, in] rollout, zeroing the
    hidden state where `starts` [T, B, N] marks the first step of an episode."""

    def __init__(self, in_features: int, hidden: int, layers: int, n_agents: int | None, recurrent: bool,
                 activation: str = "relu", layer_norm: bool = False):
        super().__init__()
        self.mlp = MLP(in_features, hidden, layers, n_agents, activation, layer_norm)
        self.gru = AgentGRUCell(hidden, hidden, n_agents) if recurrent else None
        self.hidden = hidden

    def forward(self, x: torch.Tensor, h: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor | None]:
        features = self.mlp(x)
        if self.gru is None:
            return features, h
        h = self.gru(features, h)
        return h, h

    def forward_sequence(self, x: torch.Tensor, h0: torch.Tensor | None, starts: torch.Tensor) -> torch.Tensor:
        if self.gru is None:
            return self.mlp(x)
        features, h, outputs = self.mlp(x), h0, []
        for t in range(x.shape[0]):
            h = self.gru(features[t], h * (~starts[t]).unsqueeze(-1).float())
            outputs.append(h)
        return torch.stack(outputs)
