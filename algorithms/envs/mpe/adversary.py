"""simple_adversary_v3: N good agents and one adversary; only the good agents know which of the N
landmarks is the goal. Good agents gain the adversary's distance to the goal and lose their own best."""
from __future__ import annotations

import numpy as np

from algorithms.envs.mpe.core import Layout, World, dist, others_index
from algorithms.envs.mpe.scenario import Scenario, _unsupported


class Adversary(Scenario):
    name = "simple_adversary_v3"
    n_goals = 1  # goal landmark index, shared by every agent

    def __init__(self, N: int = 2, max_cycles: int = 25, continuous_actions: bool = False,
                 dynamic_rescaling: bool = True, benchmark_data: bool = False,
                 num_agent_neighbors: int | None = None, num_landmark_neighbors: int | None = None):
        self._common(max_cycles, continuous_actions, benchmark_data, dynamic_rescaling)
        self.n = self._count("N", N)
        _unsupported(self.name, "num_agent_neighbors", num_agent_neighbors, None)
        _unsupported(self.name, "num_landmark_neighbors", num_landmark_neighbors, None)
        self.agents = ("adversary_0",) + tuple(f"agent_{i}" for i in range(self.n))
        self.layout = Layout.build(self.n + 1, self.n, 0.15, 0.08, False, False, dim_c=2)
        self._others = others_index(self.n + 1)

    def reset(self, world: World, idx: np.ndarray, rng: np.random.Generator) -> None:
        world.clear(idx)
        world.goal[0, idx] = rng.integers(self.n, size=len(idx))
        world.pos[..., idx] = rng.uniform(-1, 1, (2 * self.n + 1, 2, len(idx)))

    def draws(self):
        return (self.n,), ((2 * self.n + 1, -1.0, 1.0),)

    def observations(self, world: World) -> list[np.ndarray]:
        n, k, pos = self.n + 1, world.num_envs, world.agent_pos
        rel_lm = (world.landmark_pos[None] - pos[:, None]).reshape(n, -1, k)
        rel_other = (pos[self._others] - pos[:, None]).reshape(n, -1, k)
        goal = world.pick(world.goal[0])[None] - pos                      # [A, 2, K]
        obs = [np.concatenate([rel_lm[0], rel_other[0]])]
        return obs + [np.concatenate([goal[i], rel_lm[i], rel_other[i]]) for i in range(1, n)]

    def rewards(self, world: World) -> np.ndarray:
        d = dist(world.agent_pos, world.pick(world.goal[0])[None])        # [A, K] distance to the goal
        adv = d[0]
        good = -d[1:].min(axis=0) + adv                                    # pos_rew + adv_rew
        return np.concatenate([-adv[None], np.broadcast_to(good, (self.n, world.num_envs))])
