"""simple_push_v3: a good agent goes to its goal landmark while an adversary (who does not know which
landmark it is) pushes it away; the two agents collide."""
from __future__ import annotations

import numpy as np

from algorithms.envs.mpe.core import Layout, World, dist
from algorithms.envs.mpe.scenario import Scenario


def _colors(base: float, bump: float, n: int) -> np.ndarray:
    """mpe2's `color = [base]*3; color[i + 1] += bump` for i < n, computed the same way."""
    rows = np.full((n, 3), base)
    for i in range(n):
        rows[i, i + 1] += bump
    return rows


LANDMARK_COLORS = _colors(0.1, 0.8, 2)
AGENT_COLORS = _colors(0.25, 0.5, 2)  # the good agent's colour hints at its goal


class Push(Scenario):
    name = "simple_push_v3"
    n_goals = 1
    agents = ("adversary_0", "agent_0")

    def __init__(self, max_cycles: int = 25, continuous_actions: bool = False, dynamic_rescaling: bool = True,
                 benchmark_data: bool = False):
        self._common(max_cycles, continuous_actions, benchmark_data, dynamic_rescaling)
        self.layout = Layout.build(2, 2, 0.05, 0.05, True, False, dim_c=2)

    def reset(self, world: World, idx: np.ndarray, rng: np.random.Generator) -> None:
        world.clear(idx)
        world.goal[0, idx] = rng.integers(2, size=len(idx))
        world.pos[..., idx] = rng.uniform(-1, 1, (4, 2, len(idx)))

    def draws(self):
        return (2,), ((4, -1.0, 1.0),)

    def observations(self, world: World) -> list[np.ndarray]:
        k, pos, vel = world.num_envs, world.agent_pos, world.vel
        goal = world.pick(world.goal[0])
        rel_lm = [(world.landmark_pos - pos[i][None]).reshape(-1, k) for i in range(2)]
        adversary = np.concatenate([vel[0], rel_lm[0], pos[1] - pos[0]])
        good = np.concatenate([vel[1], goal - pos[1], AGENT_COLORS[world.goal[0]].T, rel_lm[1],
                               np.broadcast_to(LANDMARK_COLORS.reshape(-1, 1), (6, k)), pos[0] - pos[1]])
        return [adversary, good]

    def rewards(self, world: World) -> np.ndarray:
        d = dist(world.agent_pos, world.pick(world.goal[0])[None])        # [2, K] each agent's goal distance
        return np.stack([d[1] - d[0], -d[1]])
