"""Matrix games with the PettingZoo ParallelEnv API (`--env matrix:NAME`): cooperative and competitive.

Cooperative games (`MatrixGame`): two agents each pick a row / column action at once; both receive the
same payoff and the episode ends.
Observations and the global state carry no information (a constant 1), so everything a learner does is
decided by its value factorisation and its exploration: these games are the test bed for what VDN, QMIX
and QPLEX can and cannot represent.

- `nonmonotonic`: the payoff matrix of Son et al. 2019 (QTRAN, Table 1a). The optimum (A, A) = 8 is
  surrounded by -12; a monotonic factorisation fitted under uniform exploration prefers the safe 0 block.
- `climbing`: Claus & Boutilier 1998, Table 3. Optimum (a, a) = 11, next to the -30 penalties.
- `penalty`: Claus & Boutilier 1998, Table 4, with penalty `k` (default -100, their harshest setting).
  Two optima (a, a) = (c, c) = 10, miscoordination costs k; (b, b) = 2 is the safe choice.
- `bystander`: three agents; 1 for each of agent_0 and agent_1 playing action 0, agent_2 changes nothing
  (the credit-assignment test bed).

Two-player games with a payoff per player (`BimatrixGame`): agent_0 (rows) gets A[a_0, a_1], agent_1
(columns) gets B[a_0, a_1]. Payoffs are exactly those below (no rescaling), so exploitability computed
from `env.payoffs` with algorithms.core.game_theory is in these units.

- `rps`: rock-paper-scissors, zero-sum, win 1 / lose -1; the equilibrium is uniform, value 0.
- `matching_pennies`: zero-sum; the row player wins 1 on a match; the equilibrium is (0.5, 0.5), value 0.
- `biased_rps`: zero-sum, A = [[0, -25, 50], [25, 0, -5], [-50, 5, 0]] (symmetric: A = -A^T); the unique
  equilibrium is (1/16, 10/16, 5/16), value 0.
- `prisoners_dilemma`: general-sum, actions (cooperate, defect), A = [[3, 0], [5, 1]], B = A^T; defecting
  dominates, so (defect, defect) = (1, 1) is the unique Nash equilibrium although (cooperate, cooperate)
  = (3, 3) is better for both.

`context_rps` (contextual rock-paper-scissors, the opponent-modelling test bed) lives in context_rps.py.

Keywords: `repeat` (default 1) rounds per episode, the episode terminating after the last; and
`observe_last_action` (default False). Off, every observation and the state are a constant 1 (as in the
cooperative games). On, agent i observes a one-hot of the other agent's previous action with one extra
slot meaning "first round" (size n_other + 1), and the state is a one-hot of the previous joint action
with one extra slot for the first round (size A_0 * A_1 + 1), so a tabular learner can condition on it.
"""
from __future__ import annotations

import numpy as np
from gymnasium import spaces
from pettingzoo.utils.env import ParallelEnv

from algorithms.errors import MARLError

NONMONOTONIC = ((8, -12, -12), (-12, 0, 0), (-12, 0, 0))
CLIMBING = ((11, -30, 0), (-30, 7, 6), (0, 0, 5))
RPS = ((0, -1, 1), (1, 0, -1), (-1, 1, 0))
MATCHING_PENNIES = ((1, -1), (-1, 1))
BIASED_RPS = ((0, -25, 50), (25, 0, -5), (-50, 5, 0))
PRISONERS_DILEMMA = ((3, 0), (5, 1))  # row player's payoff; the column player's is its transpose


def penalty_payoff(k: float) -> tuple[tuple[float, ...], ...]:
    return ((10, 0, k), (0, 2, 0), (k, 0, 10))


class MatrixGame(ParallelEnv):
    """A repeated-once cooperative normal-form game: payoff[a_0, a_1, ...] is every agent's reward (one agent
    per axis of the payoff array)."""

    metadata = {"name": "matrix_game_v0", "render_modes": []}

    def __init__(self, payoff, name: str = "matrix_game", render_mode: str | None = None):
        self.payoff = np.asarray(payoff, dtype=np.float32)  # [A_0, A_1, ...]
        if self.payoff.ndim < 2:
            raise ValueError(f"payoff needs one axis per agent (two or more), got shape {self.payoff.shape}")
        self.metadata = {**self.metadata, "name": name}
        self.render_mode = render_mode
        self.possible_agents = [f"agent_{i}" for i in range(self.payoff.ndim)]
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

    @property
    def payoffs(self) -> tuple[np.ndarray, np.ndarray]:
        """(A, B): the row and column player's payoff matrices (here the same shared payoff)."""
        return self.payoff, self.payoff

    def step(self, actions: dict[str, int]):
        if not self.agents:
            raise RuntimeError("step() called on a finished matrix game; call reset() first")
        reward = float(self.payoff[tuple(int(actions[a]) for a in self.possible_agents)])
        agents, self.agents = self.agents, []
        return (self._observations(), {a: reward for a in agents}, {a: True for a in agents},
                {a: False for a in agents}, {a: {} for a in agents})

    def render(self) -> None:
        return None

    def close(self) -> None:
        pass


class BimatrixGame(ParallelEnv):
    """A two-player normal-form game played `repeat` times: agent_0 gets A[a_0, a_1], agent_1 gets B[a_0, a_1]."""

    metadata = {"name": "bimatrix_game_v0", "render_modes": []}

    def __init__(self, payoff_a, payoff_b, name: str = "bimatrix_game", repeat: int = 1,
                 observe_last_action: bool = False, render_mode: str | None = None):
        self.payoff_a = np.asarray(payoff_a, dtype=np.float32)  # [A_0, A_1], the row player's reward
        self.payoff_b = np.asarray(payoff_b, dtype=np.float32)  # [A_0, A_1], the column player's reward
        if self.payoff_a.ndim != 2 or self.payoff_a.shape != self.payoff_b.shape:
            raise ValueError(f"payoffs must be two 2-D matrices of one shape, got {self.payoff_a.shape} and {self.payoff_b.shape}")
        if int(repeat) < 1:
            raise MARLError("bad-env-kwarg", f"repeat must be at least 1, got {repeat}")
        self.repeat, self.observe_last_action = int(repeat), bool(observe_last_action)
        self.metadata = {**self.metadata, "name": name}
        self.render_mode = render_mode
        self.possible_agents = ["agent_0", "agent_1"]
        self.agents: list[str] = []
        self._n_actions = dict(zip(self.possible_agents, self.payoff_a.shape))
        self._round, self._last = 0, None  # rounds played; the previous joint action (or None)

    @property
    def payoffs(self) -> tuple[np.ndarray, np.ndarray]:
        """(A, B): the row (agent_0) and column (agent_1) player's payoff matrices."""
        return self.payoff_a, self.payoff_b

    def observation_space(self, agent: str) -> spaces.Space:
        other = self._n_actions["agent_1" if agent == "agent_0" else "agent_0"]
        return spaces.Box(0.0, 1.0, (other + 1 if self.observe_last_action else 1,), np.float32)

    def action_space(self, agent: str) -> spaces.Space:
        return spaces.Discrete(int(self._n_actions[agent]))

    def state(self) -> np.ndarray:
        if not self.observe_last_action:
            return np.ones(1, np.float32)
        n0, n1 = self.payoff_a.shape
        out = np.zeros(n0 * n1 + 1, np.float32)
        out[n0 * n1 if self._last is None else self._last[0] * n1 + self._last[1]] = 1.0
        return out

    def _observations(self) -> dict[str, np.ndarray]:
        if not self.observe_last_action:
            return {a: np.ones(1, np.float32) for a in self.possible_agents}
        obs = {}
        for i, agent in enumerate(self.possible_agents):
            size = self._n_actions[self.possible_agents[1 - i]]
            row = np.zeros(size + 1, np.float32)
            row[size if self._last is None else self._last[1 - i]] = 1.0
            obs[agent] = row
        return obs

    def reset(self, seed: int | None = None, options: dict | None = None):
        self.agents = list(self.possible_agents)
        self._round, self._last = 0, None
        return self._observations(), {a: {} for a in self.agents}

    def step(self, actions: dict[str, int]):
        if not self.agents:
            raise RuntimeError("step() called on a finished matrix game; call reset() first")
        a0, a1 = int(actions["agent_0"]), int(actions["agent_1"])
        rewards = {"agent_0": float(self.payoff_a[a0, a1]), "agent_1": float(self.payoff_b[a0, a1])}
        self._round, self._last = self._round + 1, (a0, a1)
        done = self._round >= self.repeat
        agents = list(self.agents)
        if done:
            self.agents = []
        return (self._observations(), rewards, {a: done for a in agents}, {a: False for a in agents},
                {a: {} for a in agents})

    def render(self) -> None:
        return None

    def close(self) -> None:
        pass


def _zero_sum(payoff, name: str, repeat: int, observe_last_action: bool, render_mode: str | None) -> BimatrixGame:
    return BimatrixGame(payoff, 0.0 - np.asarray(payoff, dtype=np.float32), name, repeat, observe_last_action, render_mode)


def rps(repeat: int = 1, observe_last_action: bool = False, render_mode: str | None = None) -> BimatrixGame:
    return _zero_sum(RPS, "rps", repeat, observe_last_action, render_mode)


def matching_pennies(repeat: int = 1, observe_last_action: bool = False, render_mode: str | None = None) -> BimatrixGame:
    return _zero_sum(MATCHING_PENNIES, "matching_pennies", repeat, observe_last_action, render_mode)


def biased_rps(repeat: int = 1, observe_last_action: bool = False, render_mode: str | None = None) -> BimatrixGame:
    return _zero_sum(BIASED_RPS, "biased_rps", repeat, observe_last_action, render_mode)


def prisoners_dilemma(repeat: int = 1, observe_last_action: bool = False,
                      render_mode: str | None = None) -> BimatrixGame:
    a = np.asarray(PRISONERS_DILEMMA, dtype=np.float32)
    return BimatrixGame(a, a.T, "prisoners_dilemma", repeat, observe_last_action, render_mode)


def nonmonotonic(render_mode: str | None = None) -> MatrixGame:
    return MatrixGame(NONMONOTONIC, "nonmonotonic", render_mode)


def climbing(render_mode: str | None = None) -> MatrixGame:
    return MatrixGame(CLIMBING, "climbing", render_mode)


def penalty(k: float = -100.0, render_mode: str | None = None) -> MatrixGame:
    return MatrixGame(penalty_payoff(k), "penalty", render_mode)


def bystander(render_mode: str | None = None) -> MatrixGame:
    """Three agents, three actions each: the team gets 1 for each of agent_0 and agent_1 that plays action 0;
    agent_2's action changes nothing. The test bed for credit assignment (`marl credit`)."""
    a = np.arange(3)
    payoff = (a[:, None, None] == 0).astype(np.float32) + (a[None, :, None] == 0) + 0 * a[None, None, :]
    return MatrixGame(payoff, "bystander", render_mode)


GAMES = {  # `matrix:NAME` (listed by core/env_registry.py)
    "bystander": bystander, "nonmonotonic": nonmonotonic, "climbing": climbing, "penalty": penalty, "rps": rps,
    "matching_pennies": matching_pennies, "biased_rps": biased_rps,
    "prisoners_dilemma": prisoners_dilemma}
