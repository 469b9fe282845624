"""Reference policies that put a trained policy's return in context: uniformly random play and, where the
environment has one, doing nothing. Both follow the Algorithm acting interface (act / initial_memory /
reset_memory), so the same evaluation loop plays them over the same episodes as the trained policy."""
from __future__ import annotations

from typing import Any

import numpy as np

from algorithms.core.action_spaces import split_components
from algorithms.core.vec_env import EnvInfo, Step

# Env families whose action 0 (discrete) or zero vector (continuous) means "do nothing": MPE's first
# movement choice is no-op, and a zero continuous action applies no force and says nothing.
NOOP_FAMILIES = ("mpe2", "batched")


def random_actions(info: EnvInfo, rng: np.random.Generator, step: Step) -> np.ndarray:
    """[K, N] uniformly random legal actions (from the action mask), uniform in the Box for continuous ones, or
    [K, N, components] legal values of every component for factorised ones."""
    if info.action_kind == "continuous":
        return rng.uniform(info.action_low, info.action_high, (len(step.obs), *info.action_low.shape))
    picks = [(rng.random(mask.shape) * mask).argmax(-1) for mask in split_components(step.action_mask, info)]
    return np.stack(picks, -1) if info.action_kind == "multi_discrete" else picks[0]


class FixedPolicy:
    """A policy that does not learn: `kind` is "random" (uniform legal actions, its own generator) or
    "noop" (action 0 / zeros)."""

    def __init__(self, info: EnvInfo, kind: str, seed: int = 0):
        if kind not in ("random", "noop"):
            raise ValueError(f"unknown reference policy {kind!r}")
        self.info, self.kind, self.rng = info, kind, np.random.default_rng(seed)

    def act(self, step: Step, memory: Any, deterministic: bool) -> tuple[np.ndarray, Any]:
        if self.kind == "random":
            return random_actions(self.info, self.rng, step), None
        k, n = step.obs.shape[:2]
        if self.info.action_kind == "continuous":
            return np.zeros((k, n, self.info.action_dim), np.float32), None
        if self.info.action_kind == "multi_discrete":
            return np.zeros((k, n, len(self.info.action_components)), np.int64), None
        return np.zeros((k, n), np.int64), None

    def initial_memory(self, num_envs: int) -> Any:
        return None

    def reset_memory(self, memory: Any, episode_end: np.ndarray) -> Any:
        return None


def has_noop(env_id: str) -> bool:
    return env_id.partition(":")[0] in NOOP_FAMILIES
