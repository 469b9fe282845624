"""Transition replay for off-policy learners (MADDPG): a ring buffer of single steps, agents as an axis.

Each field is one preallocated tensor [capacity, ...] (for example obs [capacity, N, obs_dim]); `add` writes
a batch of K transitions (one per env copy) at once and `sample` draws a uniform minibatch of them.
The buffer saves only its filled rows, so a checkpoint early in training stays small.
"""
from __future__ import annotations

import math
from typing import NamedTuple

import torch

from algorithms.core.memory import require_fits
from algorithms.core.tensors import to_tensor


class FieldSpec(NamedTuple):
    shape: tuple[int, ...]  # per-transition shape, e.g. (N, obs_dim)
    dtype: torch.dtype


class TransitionReplay:
    """Fixed-capacity FIFO buffer of transitions; the oldest rows are overwritten once full."""

    def __init__(self, capacity: int, fields: dict[str, FieldSpec], device: torch.device):
        if capacity < 1:
            raise ValueError(f"replay capacity must be positive, got {capacity}")
        self.capacity, self.fields, self.device = capacity, dict(fields), device
        row = sum(math.prod(spec.shape) * torch.empty((), dtype=spec.dtype).element_size() for spec in fields.values())
        require_fits(f"the replay buffer ({capacity:,} transitions of {row:,} bytes)", capacity * row,
                     "lower --set buffer_size, or make observations smaller (--env-kwarg obs_resize=HxW for images)")
        # torch.empty: pages are only touched when written, so a large capacity costs nothing up front.
        self.data = {name: torch.empty((capacity, *spec.shape), dtype=spec.dtype, device=device)
                     for name, spec in self.fields.items()}
        self.position = 0  # next row to write
        self.size = 0      # rows holding data

    def __len__(self) -> int:
        return self.size

    def add(self, **batch: torch.Tensor) -> None:
        """Write K transitions: every field is given, each [K, *shape]."""
        if set(batch) != set(self.fields):
            raise KeyError(f"add() needs exactly the fields {sorted(self.fields)}, got {sorted(batch)}")
        k = next(iter(batch.values())).shape[0]
        rows = (self.position + torch.arange(k, device=self.device)) % self.capacity
        for name, value in batch.items():
            self.data[name][rows] = to_tensor(value, self.device, self.fields[name].dtype)
        self.position = (self.position + k) % self.capacity
        self.size = min(self.size + k, self.capacity)

    def sample(self, batch_size: int, generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        """A uniform minibatch (with replacement) of filled rows: each field [batch_size, *shape]."""
        if self.size == 0:
            raise ValueError("cannot sample from an empty replay buffer")
        idx = torch.randint(0, self.size, (batch_size,), generator=generator, device=self.device)
        return {name: value[idx] for name, value in self.data.items()}

    def state_dict(self) -> dict:
        """The filled rows in storage order plus the write position (exact resume of sampling)."""
        return {"capacity": self.capacity, "position": self.position, "size": self.size,
                "data": {name: value[: self.size].clone() for name, value in self.data.items()}}

    def load_state_dict(self, state: dict) -> None:
        if state["capacity"] != self.capacity:
            raise ValueError(f"checkpoint buffer holds {state['capacity']} rows, this one {self.capacity}")
        self.position, self.size = state["position"], state["size"]
        for name, value in state["data"].items():
            self.data[name][: self.size] = value.to(self.device)
