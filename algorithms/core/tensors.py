"""The one crossing between NumPy and torch.

Envs speak NumPy on the CPU; networks run on the algorithm's device (CPU or CUDA). Every conversion goes
through these two functions so that the device is always named at the crossing: a CPU tensor that meets a
CUDA tensor (in torch.where, cat, indexing...) fails only on a GPU, where CPU tests cannot see it.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

ArrayLike = np.ndarray | torch.Tensor | Sequence | float | int | bool


def to_tensor(x: ArrayLike, device: torch.device | str, dtype: torch.dtype | None = None) -> torch.Tensor:
    """`x` (NumPy array, scalar, sequence or tensor) as a tensor on `device`, cast to `dtype` if given.

    No copy when `x` is already there (torch.as_tensor): a CPU result may share memory with a NumPy `x`."""
    return torch.as_tensor(x, dtype=dtype, device=device)


def to_numpy(t: torch.Tensor) -> np.ndarray:
    """`t` as a NumPy array: detached from autograd and moved to the CPU first (both needed by .numpy()).

    May share memory with `t` when it is already a CPU tensor."""
    return t.detach().cpu().numpy()
