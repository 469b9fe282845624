"""Network pieces that keep agents as a tensor axis: inputs are [..., N, features].

`n_agents=None` shares one set of weights across agents (parameter sharing); an int gives each
agent its own weights, still computed in one batched einsum rather than a loop over agents.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from algorithms.errors import MARLError


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


@dataclass(frozen=True)
class ImageLayout:
    """An image at the start of a flat input row: `views` images of height x width x channels, channels last
    (one agent's observation: views 1; every agent's, concatenated as a state: views N), pixels times `scale`."""

    views: int
    height: int
    width: int
    channels: int
    scale: float = 1.0

    @property
    def size(self) -> int:
        return self.views * self.height * self.width * self.channels


def conv_layers(height: int, width: int) -> list[tuple[int, int, int]]:
    """(out channels, kernel, stride) per layer: Mnih et al. 2015's encoder from 64 pixels up, smaller ones below."""
    side = min(height, width)
    if side >= 64:
        return [(32, 8, 4), (64, 4, 2), (64, 3, 1)]
    if side >= 32:
        return [(32, 4, 2), (64, 3, 2), (64, 3, 1)]
    return [(16, 3, 2), (32, 3, 2)]  # small images (16-31 pixels a side): two strided layers keep it cheap


class ConvEncoder(nn.Module):
    """Pixels -> features: a small CNN (shared by all agents) and a linear layer with ReLU. Input [..., size]."""

    def __init__(self, layout: ImageLayout, out_features: int):
        super().__init__()
        self.layout = layout
        blocks: list[nn.Module] = []
        channels = layout.views * layout.channels  # several views (agents, stacked frames) become channels
        for out, kernel, stride in conv_layers(layout.height, layout.width):
            blocks += [nn.Conv2d(channels, out, kernel, stride), nn.ReLU()]
            channels = out
        self.convs = nn.Sequential(*blocks, nn.Flatten())
        with torch.no_grad():
            flat = self.convs(torch.zeros(1, layout.views * layout.channels, layout.height, layout.width)).shape[-1]
        self.out = nn.Linear(flat, out_features)
        for module in self.modules():
            if isinstance(module, (nn.Conv2d, nn.Linear)):
                nn.init.orthogonal_(module.weight, math.sqrt(2))
                nn.init.zeros_(module.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        v, h, w, c = (self.layout.views, self.layout.height, self.layout.width, self.layout.channels)
        images = x.reshape(-1, v, h, w, c).permute(0, 1, 4, 2, 3).reshape(-1, v * c, h, w) * self.layout.scale
        return F.relu(self.out(self.convs(images))).view(*x.shape[:-1], -1)


CONV_ENCODER = ("auto", "on", "off")


def image_layout(shape: tuple[int, ...], scale: float, setting: str) -> ImageLayout | None:
    """The pixels a Torso encodes with a CNN, from EnvInfo's obs_image / state_image, or None for a plain MLP.
    `setting` auto: a CNN when the images are at least 16 pixels on each side (board games such as tic-tac-toe
    or chess keep the MLP they were measured with); on: whenever the input is an image; off: never."""
    if not shape or setting == "off":
        if setting == "on":
            raise MARLError("bad-config-value", "conv_encoder=on, but the observations are not images",
                            "conv_encoder applies to envs whose observations are height x width (x channels) Boxes")
        return None
    views, height, width, channels = shape if len(shape) == 4 else (1, *shape)
    if setting == "auto" and min(height, width) < 16:
        return None
    return ImageLayout(views, height, width, channels, scale)


class Torso(nn.Module):
    """MLP, optionally followed by a GRU. `forward_sequence` runs a [T, B, N, in] rollout, zeroing the
    hidden state where `starts` [T, B, N] marks the first step of an episode. With `image`, the first
    `image.size` inputs are pixels: a ConvEncoder turns them into `hidden` features, and the MLP reads those
    and the remaining inputs (agent id and the like)."""

    def __init__(self, in_features: int, hidden: int, layers: int, n_agents: int | None, recurrent: bool,
                 activation: str = "relu", layer_norm: bool = False, image: ImageLayout | None = None):
        super().__init__()
        self.encoder = ConvEncoder(image, hidden) if image is not None else None
        self.pixels = image.size if image is not None else 0
        mlp_in = in_features if image is None else hidden + in_features - self.pixels
        self.mlp = MLP(mlp_in, hidden, layers, n_agents, activation, layer_norm)
        self.gru = AgentGRUCell(hidden, hidden, n_agents) if recurrent else None
        self.hidden = hidden

    def _features(self, x: torch.Tensor) -> torch.Tensor:
        x = x if x.is_floating_point() else x.float()  # uint8 pixels are stored as they came
        if self.encoder is not None:
            x = torch.cat([self.encoder(x[..., : self.pixels]), x[..., self.pixels:]], dim=-1)
        return self.mlp(x)

    def forward(self, x: torch.Tensor, h: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor | None]:
        features = self._features(x)
        if self.gru is None:
            return features, h
        h = self.gru(features, h)
        return h, h

    def forward_sequence(self, x: torch.Tensor, h0: torch.Tensor | None, starts: torch.Tensor) -> torch.Tensor:
        if self.gru is None:
            return self._features(x)
        features, h, outputs = self._features(x), h0, []
        for t in range(x.shape[0]):
            h = self.gru(features[t], h * (~starts[t]).unsqueeze(-1).float())
            outputs.append(h)
        return torch.stack(outputs)
