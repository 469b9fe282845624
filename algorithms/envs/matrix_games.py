"""One-step cooperative matrix games with the PettingZoo ParallelEnv API (`--env matrix:NAME`).

Two agents each pick a row / column action at once; both receive the same payoff and the episode ends.
Observations and the global state carry no information (a constant 1), so everything a learner does is
decided by its value factorisation and its exploration: these games are the test bed for what VDN, QMIX
and QPLEX can and cannot represent.

- `nonmonotonic`: the payoff matrix of Son et al. 2019 (QTRAN, Table 1a). The optimum (A, A) = 8 is
  surrounded by -12; a monotonic factorisation fitted under uniform exploration prefers the safe 0 block.
- `climbing`: Claus & Boutilier 1998, Table 3. Optimum (a, a) = 11, next to the -30 penalties.
- `penalty`: Claus & Boutilier 1998, Table 4, with penalty `k` (default -100, their harshest setting).
  Two optima (a, a) = (c, c) = 10, miscoordination costs k; (b, b) = 2 is the safe choice.
"""
from __future__ import annotations

import numpy as np
from gymnasium import spaces
from pettingzoo.utils.env import ParallelEnv

from algorithms.core.env_factory import BUILTIN_ENVS

NONMONOTONIC = ((8, -12, -12), (-12, 0, 0), (-12, 0, 0))
CLIMBING = ((11, -30, 0), (-30, 7, 6), (0, 0, 5))


def penalty_payoff(k: float) -> tuple[tuple[float, ...], ...]:
    return ((10, 0, k), (0, 2, 0), (k, 0, 10))


class MatrixGame(ParallelEnv):
    """A repeated-once cooperative normal-form game: payoff[a_0, a_1] is every agent's reward."""

    metadata = {"name": "matrix_game_v0", "render_modes": []}

    def __init__(self, payoff, name: str = "matrix_game", render_mode: str | None = None):
        self.payoff = np.asarray(payoff, dtype=np.float32)  # [A_0, A_1]
        if self.payoff.ndim != 2:
            raise ValueError(f"payoff must be a 2-D matrix, got shape {self.payoff.shape}")
        self.metadata = {**self.metadata, "name": name}
        self.render_mode = render_mode
        self.possible_agents = ["agent_0", "agent_1"]
        self.agents: list[str] = []
        self._n_actions = dict(zip(self.possible_agents, self.payoff.shape))
        self._obs_space = spaces.Box(0.0, 1.0, (1,), np.float32)

    def observation_space(self, agent: str) -> spaces.Space:
        return self._obs_space

    def action_space(self, agent: str) -> spaces.Space:
        return spaces.Discrete(int(self._n_actions[agent]))

    def state(self) -> np.ndarray:
        return np.ones(1, np.float32)

    def _observations(self) -> dict[str, np.ndarray]:
        return {a: np.ones(1, np.float32) for a in self.possible_agents}

    def reset(self, seed: int | None = None, options: dict | None = None):
        self.agents = list(self.possible_agents)
        return self._observations(), {a: {} for a in self.agents}

    def step(self, actions: dict[str, int]):
        if not self.agents:
            raise RuntimeError("step() called on a finished matrix game; call reset() first")
        reward = float(self.payoff[int(actions["agent_0"]), int(actions["agent_1"])])
        agents, self.agents = self.agents, []
        return (self._observations(), {a: reward for a in agents}, {a: True for a in agents},
                {a: False for a in agents}, {a: {} for a in agents})

    def render(self) -> None:
        return None

    def close(self) -> None:
        pass


def nonmonotonic(render_mode: str | None = None) -> MatrixGame:
    return MatrixGame(NONMONOTONIC, "nonmonotonic", render_mode)


def climbing(render_mode: str | None = None) -> MatrixGame:
    return MatrixGame(CLIMBING, "climbing", render_mode)


def penalty(k: float = -100.0, render_mode: str | None = None) -> MatrixGame:
    return MatrixGame(penalty_payoff(k), "penalty", render_mode)


BUILTIN_ENVS["matrix"] = {"nonmonotonic": nonmonotonic, "climbing": climbing, "penalty": penalty}
