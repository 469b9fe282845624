"""simple_crypto_v3: three immovable talkers. Alice sees the goal colour and a private key and speaks;
Bob hears her and holds the key; Eve only hears her. Bob and Eve are scored on how close their own
message is to the goal colour: Eve wants hers close, Alice and Bob want Bob's close and Eve's far."""
from __future__ import annotations

import numpy as np

from algorithms.envs.mpe.core import Layout, World
from algorithms.envs.mpe.scenario import Scenario

# mpe2's `color = zeros(dim_c); color[i] += 1`: a landmark's colour is a one-hot of width dim_c (4)
LANDMARK_COLORS = np.eye(2, 4)


def _miss(c: np.ndarray, target: np.ndarray) -> np.ndarray:
    """[K] mpe2's `np.sum(np.square(c - target))`, or 0 while the agent has said nothing (c all zero)."""
    d = c - target                                                       # [4, K]
    s = d * d
    err = ((s[0] + s[1]) + s[2]) + s[3]  # np.sum over 4 entries adds them left to right
    return np.where((c != 0).any(axis=0), err, 0.0)


class Crypto(Scenario):
    name = "simple_crypto_v3"
    n_goals = 2  # the goal landmark, then the landmark whose colour is the key (drawn in this order)
    agents = ("eve_0", "bob_0", "alice_0")

    def __init__(self, max_cycles: int = 25, continuous_actions: bool = False, dynamic_rescaling: bool = True,
                 benchmark_data: bool = False):
        self._common(max_cycles, continuous_actions, benchmark_data, dynamic_rescaling)
        # Nobody moves or collides: positions are drawn (they consume mpe2's random stream) but never used.
        self.layout = Layout.build(3, 2, 0.05, 0.05, False, False, dim_c=4, movable=False, silent=False)

    def reset(self, world: World, idx: np.ndarray, rng: np.random.Generator) -> None:
        world.clear(idx)
        world.goal[:, idx] = rng.integers(2, size=(2, len(idx)))
        world.pos[..., idx] = rng.uniform(-1, 1, (5, 2, len(idx)))

    def draws(self):
        return (2, 2), ((5, -1.0, 1.0),)

    def observations(self, world: World) -> list[np.ndarray]:
        goal, key = LANDMARK_COLORS[world.goal[0]].T, LANDMARK_COLORS[world.goal[1]].T   # [4, K]
        alice = world.comm[2]
        # Only Alice is a speaker, so she is the only voice Bob and Eve hear.
        return [alice.copy(), np.concatenate([key, alice]), np.concatenate([goal, key])]

    def rewards(self, world: World) -> np.ndarray:
        goal = LANDMARK_COLORS[world.goal[0]].T
        eve, bob = _miss(world.comm[0], goal), _miss(world.comm[1], goal)
        good = eve + -bob  # mpe2: adv_rew + good_rew, with good_rew = -bob
        return np.stack([-eve, good, good])
