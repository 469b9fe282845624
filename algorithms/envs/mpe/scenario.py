"""What every batched scenario provides, and the checks on the mpe2 keyword arguments it accepts."""
from __future__ import annotations

import numpy as np

from algorithms.errors import MARLError
from algorithms.envs.mpe.core import Layout, World


class Scenario:
    """One mpe2 scenario over K copies. Subclasses set the class attributes and fill the methods.

    `reset` draws the copies' initial state from the same distributions as mpe2's reset_world
    (not from the same random stream: one NumPy Generator serves the whole batch).
    """

    name: str = ""
    n_goals: int = 0                      # columns of World.goal this scenario uses
    agents: tuple[str, ...] = ()
    layout: Layout
    local_ratio: float | None = None
    continuous_actions: bool = False
    max_cycles: int = 25

    def reset(self, world: World, idx: np.ndarray, rng: np.random.Generator) -> None:
        raise NotImplementedError

    def draws(self) -> tuple[tuple[int, ...], tuple[tuple[int, float, float], ...]]:
        """mpe2's reset_world call order: (goal draws `integers(n)`, position groups (count, low, high)
        drawn entity by entity with `uniform(low, high, 2)`), for `reset_like_mpe2`."""
        raise NotImplementedError

    def reset_like_mpe2(self, world: World, k: int, rng: np.random.Generator) -> None:
        """Reset copy k with mpe2's own calls on `rng` (the copy's generator, seeded as mpe2 seeds it), so
        the copy starts exactly where mpe2 would: slower than the batched `reset`, used for seeding="mpe2"."""
        goals, groups = self.draws()
        world.clear(np.array([k]))
        for j, n in enumerate(goals):
            world.goal[j, k] = int(rng.integers(n))
        e = 0
        for count, low, high in groups:
            for _ in range(count):
                world.pos[e, :, k] = rng.uniform(low, high, 2)
                e += 1

    def observations(self, world: World) -> list[np.ndarray] | np.ndarray:
        """Each agent's float64 observation [obs_size_i, K] in possible_agents order (a list), or one
        [N, obs_size, K] array when every agent has the same size."""
        raise NotImplementedError

    def rewards(self, world: World) -> np.ndarray:
        """[N, K] float64 rewards after a step (local/global blend already applied)."""
        raise NotImplementedError

    def terminal(self, world: World) -> np.ndarray | None:
        """[K] bool: the scenario's is_terminal (checked only when the step is not a truncation)."""
        return None

    # ---- shared pieces -------------------------------------------------------------------------

    def _common(self, max_cycles, continuous_actions, benchmark_data=False, dynamic_rescaling=True) -> None:
        """The SimpleEnv arguments. dynamic_rescaling only affects rendering, which this backend lacks."""
        if not isinstance(max_cycles, int) or isinstance(max_cycles, bool) or max_cycles < 1:
            raise _bad(self.name, "max_cycles", max_cycles, "a positive integer")
        if not isinstance(continuous_actions, bool):
            raise _bad(self.name, "continuous_actions", continuous_actions, "true or false")
        _unsupported(self.name, "benchmark_data", benchmark_data, False)
        self.max_cycles, self.continuous_actions = max_cycles, continuous_actions

    def _local_ratio(self, local_ratio) -> float:
        if isinstance(local_ratio, bool) or not isinstance(local_ratio, (int, float)) or not 0 <= local_ratio <= 1:
            raise _bad(self.name, "local_ratio", local_ratio, "a number between 0 and 1")
        return local_ratio

    def _count(self, key: str, value, low: int = 1) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise _bad(self.name, key, value, f"an integer >= {low}")
        return value


def _bad(name: str, key: str, value, expected: str) -> MARLError:
    return MARLError("bad-env-kwarg", f"batched:{name}: {key}={value!r} is not valid", f"expected {expected}")


def _unsupported(name: str, key: str, value, supported) -> None:
    """mpe2 options this backend does not implement: only their default value is accepted."""
    if value != supported or type(value) is not type(supported):
        raise MARLError("bad-env-kwarg",
                           f"batched:{name} supports only {key}={supported!r}, got {value!r}",
                           f"use mpe2:{name} for {key}")
