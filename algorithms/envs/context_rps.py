"""Contextual rock-paper-scissors (`--env matrix:context_rps`): a public context, then a round of RPS.

Every round both players see a one-hot context c in 0..contexts-1, drawn uniformly and independently each
round, then play rock-paper-scissors (win 1, lose -1, tie 0; zero-sum). An episode is `rounds` rounds and
terminates after the last. The context changes nothing in the payoffs: it matters only through a player
whose move depends on it, such as `algorithms.envs.scripted:context_favourite`. That makes it the test
bed for opponent modelling (He et al. 2016): the opponent's next move is predictable from what the
learner observes, and a model fitted to every observed opponent move can learn that faster than a
policy fitted to its own rewards.
"""
from __future__ import annotations

import numpy as np
from gymnasium import spaces
from pettingzoo.utils.env import ParallelEnv


class ContextRPS(ParallelEnv):
    metadata = {"name": "context_rps_v0", "render_modes": []}
    possible_agents = ["player_0", "player_1"]

    def __init__(self, contexts: int = 32, rounds: int = 10, render_mode: str | None = None):
        if contexts < 1 or rounds < 1:
            raise ValueError(f"contexts and rounds must be positive, got {contexts} and {rounds}")
        self.contexts, self.rounds, self.render_mode = contexts, rounds, render_mode
        self.rng = np.random.default_rng()
        self.agents: list[str] = []

    def observation_space(self, agent: str) -> spaces.Space:
        return spaces.Box(0.0, 1.0, (self.contexts,), np.float32)

    def action_space(self, agent: str) -> spaces.Space:
        return spaces.Discrete(3)

    def state(self) -> np.ndarray:
        out = np.zeros(self.contexts, np.float32)
        out[self.context] = 1.0
        return out

    def _observations(self) -> dict[str, np.ndarray]:
        return {a: self.state() for a in self.possible_agents}

    def reset(self, seed: int | None = None, options: dict | None = None):
        if seed is not None:
            self.rng = np.random.default_rng(seed)
        self.agents, self.round = list(self.possible_agents), 0
        self.context = int(self.rng.integers(self.contexts))
        return self._observations(), {a: {} for a in self.agents}

    def step(self, actions: dict[str, int]):
        if not self.agents:
            raise RuntimeError("step() called on a finished game; call reset() first")
        a0, a1 = int(actions["player_0"]), int(actions["player_1"])
        r = 0.0 if a0 == a1 else (1.0 if (a0 - a1) % 3 == 1 else -1.0)  # paper (1) beats rock (0), ...
        self.round += 1
        self.context = int(self.rng.integers(self.contexts))
        over = self.round >= self.rounds
        if over:
            self.agents = []
        flags = {a: over for a in self.possible_agents}
        return (self._observations(), {"player_0": r, "player_1": -r}, flags,
                {a: False for a in self.possible_agents}, {a: {} for a in self.possible_agents})

    def render(self) -> None:
        return None

    def close(self) -> None:
        return None


def context_rps(contexts: int = 32, rounds: int = 10, render_mode: str | None = None) -> ContextRPS:
    return ContextRPS(contexts, rounds, render_mode)

