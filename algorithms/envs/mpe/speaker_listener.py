"""simple_speaker_listener_v4: an immovable speaker sees the goal landmark's colour and sends a
3-way message; the listener hears it and moves. Both get minus the listener's squared goal distance."""
from __future__ import annotations

import numpy as np

from algorithms.envs.mpe.core import Layout, World
from algorithms.envs.mpe.scenario import Scenario

LANDMARK_COLORS = np.array([[0.65, 0.15, 0.15], [0.15, 0.65, 0.15], [0.15, 0.15, 0.65]])


class SpeakerListener(Scenario):
    name = "simple_speaker_listener_v4"
    n_goals = 1  # the landmark the listener must reach
    agents = ("speaker_0", "listener_0")

    def __init__(self, max_cycles: int = 25, continuous_actions: bool = False, dynamic_rescaling: bool = True,
                 benchmark_data: bool = False):
        self._common(max_cycles, continuous_actions, benchmark_data, dynamic_rescaling)
        self.layout = Layout.build(2, 3, 0.075, 0.04, False, False, dim_c=3,
                                   movable=[False, True], silent=[False, True])

    def reset(self, world: World, idx: np.ndarray, rng: np.random.Generator) -> None:
        world.clear(idx)
        world.goal[0, idx] = rng.integers(3, size=len(idx))
        world.pos[..., idx] = rng.uniform(-1, 1, (5, 2, len(idx)))

    def draws(self):
        return (3,), ((5, -1.0, 1.0),)

    def observations(self, world: World) -> list[np.ndarray]:
        k = world.num_envs
        rel_lm = (world.landmark_pos - world.agent_pos[1][None]).reshape(-1, k)
        return [LANDMARK_COLORS[world.goal[0]].T, np.concatenate([world.vel[1], rel_lm, world.comm[0]])]

    def rewards(self, world: World) -> np.ndarray:
        d = world.agent_pos[1] - world.pick(world.goal[0])                # listener minus goal, [2, K]
        r = -(d[0] * d[0] + d[1] * d[1])
        return np.stack([r, r])
