"""simple_tag_v3: slow adversaries chase fast good agents around obstacles; good agents pay for leaving
the arena. Adversaries come first in the agent order (adversary_0.., agent_0..), then the obstacles."""
from __future__ import annotations

import numpy as np

from algorithms.envs.mpe.core import Layout, World, dist, others_index
from algorithms.envs.mpe.scenario import Scenario, _unsupported


class Tag(Scenario):
    name = "simple_tag_v3"

    def __init__(self, num_good: int = 1, num_adversaries: int = 3, num_obstacles: int = 2, max_cycles: int = 25,
                 continuous_actions: bool = False, dynamic_rescaling: bool = True, benchmark_data: bool = False,
                 curriculum: bool = False, terminate_on_success: bool = False,
                 num_agent_neighbors: int | None = None, num_landmark_neighbors: int | None = None):
        self._common(max_cycles, continuous_actions, benchmark_data, dynamic_rescaling)
        self.n_good = self._count("num_good", num_good)
        self.n_adv = self._count("num_adversaries", num_adversaries)
        self.n_obs = self._count("num_obstacles", num_obstacles, low=0)
        _unsupported(self.name, "curriculum", curriculum, False)
        _unsupported(self.name, "num_agent_neighbors", num_agent_neighbors, None)
        _unsupported(self.name, "num_landmark_neighbors", num_landmark_neighbors, None)
        self.terminate_on_success = bool(terminate_on_success)
        n_a, n_g = self.n_adv, self.n_good
        self.agents = tuple([f"adversary_{i}" for i in range(n_a)] + [f"agent_{i}" for i in range(n_g)])
        adversary = np.arange(n_a + n_g) < n_a
        self.layout = Layout.build(n_a + n_g, self.n_obs, np.where(adversary, 0.075, 0.05), 0.2, True, True,
                                   dim_c=2, accel=np.where(adversary, 3.0, 4.0),
                                   max_speed=np.where(adversary, 1.0, 1.3))
        self._others = others_index(n_a + n_g)
        # for each agent, the good agents among its others (their velocities are observed)
        self._good_others = [[o for o in row if o >= n_a] for row in self._others]
        size = self.layout.size
        self._hit = size[:n_a, None] + size[None, n_a:n_a + n_g]   # [adv, good] collision distances

    def reset(self, world: World, idx: np.ndarray, rng: np.random.Generator) -> None:
        world.clear(idx)
        n = self.n_adv + self.n_good
        world.pos[:n, :, idx] = rng.uniform(-1, 1, (n, 2, len(idx)))
        world.pos[n:, :, idx] = rng.uniform(-0.9, 0.9, (self.n_obs, 2, len(idx)))

    def draws(self):
        return (), ((self.n_adv + self.n_good, -1.0, 1.0), (self.n_obs, -0.9, 0.9))

    def observations(self, world: World) -> list[np.ndarray]:
        n, k = self.n_adv + self.n_good, world.num_envs
        pos, vel = world.agent_pos, world.vel[:n]                                # [A, 2, K]
        rel_lm = (world.landmark_pos[None] - pos[:, None]).reshape(n, -1, k)     # [A, 2*L, K]
        rel_other = (pos[self._others] - pos[:, None]).reshape(n, -1, k)         # [A, 2*(A-1), K]
        return [np.concatenate([vel[i], pos[i], rel_lm[i], rel_other[i], vel[self._good_others[i]].reshape(-1, k)])
                for i in range(n)]

    def _caught(self, world: World) -> np.ndarray:
        pos = world.agent_pos
        d = dist(pos[: self.n_adv, None], pos[None, self.n_adv:])          # [adv, good, K]
        return d < self._hit[..., None]

    def rewards(self, world: World) -> np.ndarray:
        caught = self._caught(world)
        good_pos = world.agent_pos[self.n_adv:]                            # [G, 2, K]
        rew_good = 0.0 - 10.0 * caught.sum(axis=0)                         # [G, K]
        for p in range(2):  # rew -= bound(|x|), then bound(|y|)
            rew_good = rew_good - _bound(np.abs(good_pos[:, p]))
        rew_adv = 10.0 * caught.sum(axis=(0, 1)).astype(np.float64)       # [K], every adversary alike
        return np.concatenate([np.broadcast_to(rew_adv, (self.n_adv, world.num_envs)), rew_good])

    def terminal(self, world: World) -> np.ndarray | None:
        if not self.terminate_on_success:
            return None
        return self._caught(world).any(axis=0).all(axis=0)


def _bound(x: np.ndarray) -> np.ndarray:
    """mpe2's arena penalty: 0 inside 0.9, linear up to 1.0, then min(exp(2x - 2), 10)."""
    with np.errstate(over="ignore"):
        far = np.minimum(np.exp(np.ascontiguousarray(2 * x - 2)), 10)
    return np.where(x < 0.9, 0.0, np.where(x < 1.0, (x - 0.9) * 10, far))
