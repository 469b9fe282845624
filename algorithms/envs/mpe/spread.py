"""simple_spread_v3: N agents cover N landmarks; shared distance reward, local collision penalty."""
from __future__ import annotations

import numpy as np

from algorithms.envs.mpe.core import Layout, World, blend, dist, others_index
from algorithms.envs.mpe.scenario import Scenario, _unsupported

CAPTURE_RADIUS = 0.1


class Spread(Scenario):
    name = "simple_spread_v3"

    def __init__(self, N: int = 3, local_ratio: float = 0.5, max_cycles: int = 25,
                 continuous_actions: bool = False, dynamic_rescaling: bool = True, benchmark_data: bool = False,
                 curriculum: bool = False, terminate_on_success: bool = False,
                 num_agent_neighbors: int | None = None, num_landmark_neighbors: int | None = None):
        self._common(max_cycles, continuous_actions, benchmark_data, dynamic_rescaling)
        self.n = self._count("N", N)
        self.local_ratio = self._local_ratio(local_ratio)
        _unsupported(self.name, "curriculum", curriculum, False)
        _unsupported(self.name, "num_agent_neighbors", num_agent_neighbors, None)
        _unsupported(self.name, "num_landmark_neighbors", num_landmark_neighbors, None)
        self.terminate_on_success = bool(terminate_on_success)
        self.agents = tuple(f"agent_{i}" for i in range(self.n))
        self.layout = Layout.build(self.n, self.n, 0.15, 0.05, True, False, dim_c=2)
        self._others = others_index(self.n)

    def reset(self, world: World, idx: np.ndarray, rng: np.random.Generator) -> None:
        world.clear(idx)
        world.pos[..., idx] = rng.uniform(-1, 1, (2 * self.n, 2, len(idx)))

    def draws(self):
        return (), ((2 * self.n, -1.0, 1.0),)

    def observations(self, world: World) -> np.ndarray:
        n, k = self.n, world.num_envs
        pos = world.agent_pos                                              # [N, 2, K]
        rel_lm = world.landmark_pos[None] - pos[:, None]                   # [N, L, 2, K]
        rel_other = pos[self._others] - pos[:, None]                       # [N, N-1, 2, K]
        comm = world.comm[self._others]                                    # [N, N-1, 2, K]
        return np.concatenate([world.vel[:n], pos, rel_lm.reshape(n, -1, k), rel_other.reshape(n, -1, k),
                               comm.reshape(n, -1, k)], axis=1)            # [N, obs, K]

    def _landmark_min_dist(self, world: World) -> np.ndarray:
        d = dist(world.agent_pos[:, None], world.landmark_pos[None])       # [A, L, K]
        return d.min(axis=0)                                               # [L, K]

    def rewards(self, world: World) -> np.ndarray:
        m = self._landmark_min_dist(world)
        glob = np.zeros(world.num_envs)
        for lm in range(self.n):  # rew -= min(dists), landmark by landmark
            glob = glob - m[lm]
        pos = world.agent_pos
        d = dist(pos[:, None], pos[None])                                  # [A, A, K]
        hits = (d < self.layout.size[0] + self.layout.size[0]) & ~np.eye(self.n, dtype=bool)[..., None]
        local = 0.0 - hits.sum(axis=0).astype(np.float64)  # -1.0 per colliding other agent
        return blend(glob, local, self.local_ratio)

    def terminal(self, world: World) -> np.ndarray | None:
        if not self.terminate_on_success:
            return None
        return (self._landmark_min_dist(world) < CAPTURE_RADIUS).all(axis=0)
