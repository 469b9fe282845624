"""simple_reference_v3: two agents, each knows the landmark the *other* must reach and can say so
with a 10-word message; discrete actions pack move + 5 * word into one of 50 choices."""
from __future__ import annotations

import numpy as np

from algorithms.envs.mpe.core import Layout, World, blend, dist
from algorithms.envs.mpe.scenario import Scenario

LANDMARK_COLORS = np.array([[0.75, 0.25, 0.25], [0.25, 0.75, 0.25], [0.25, 0.25, 0.75]])


class Reference(Scenario):
    name = "simple_reference_v3"
    n_goals = 2  # goal_b landmark of agent_0, then of agent_1 (drawn in this order)
    agents = ("agent_0", "agent_1")

    def __init__(self, local_ratio: float = 0.5, max_cycles: int = 25, continuous_actions: bool = False,
                 dynamic_rescaling: bool = True, benchmark_data: bool = False):
        self._common(max_cycles, continuous_actions, benchmark_data, dynamic_rescaling)
        self.local_ratio = self._local_ratio(local_ratio)
        self.layout = Layout.build(2, 3, 0.05, 0.05, False, False, dim_c=10, silent=False)

    def reset(self, world: World, idx: np.ndarray, rng: np.random.Generator) -> None:
        world.clear(idx)
        world.goal[:, idx] = rng.integers(3, size=(2, len(idx)))
        world.pos[..., idx] = rng.uniform(-1, 1, (5, 2, len(idx)))

    def draws(self):
        return (3, 3), ((5, -1.0, 1.0),)

    def observations(self, world: World) -> list[np.ndarray]:
        k, pos = world.num_envs, world.agent_pos
        return [np.concatenate([world.vel[i], (world.landmark_pos - pos[i][None]).reshape(-1, k),
                                LANDMARK_COLORS[world.goal[i]].T, world.comm[1 - i]]) for i in range(2)]

    def rewards(self, world: World) -> np.ndarray:
        # agent i's goal_a is the other agent, which must reach agent i's goal_b
        own = np.stack([-dist(world.agent_pos[1 - i], world.pick(world.goal[i])) for i in range(2)])   # [2, K]
        glob = (own[0] + own[1]) / 2
        return blend(glob, own, self.local_ratio)
