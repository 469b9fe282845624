"""A many-agent Ising game (after Yang et al. 2018, Sec. 5.2), PettingZoo ParallelEnv API: `--env lattice:ising`.

`size` x `size` agents sit on a torus (64 by default); each holds a spin and picks it anew every step
(action 0: spin -1, action 1: spin +1). Agent j's reward is `coupling` times its spin times the mean of its four
lattice neighbours' new spins, plus `field` times its spin: +coupling when it agrees with all four neighbours,
-coupling when it disagrees with all of them. Uniformly random spins earn 0 on average; one aligned domain earns
`coupling` per agent per step. Observation: the agent's own spin and its neighbours' mean spin from the last
step (the configuration before anyone moves), so a policy that follows its neighbours' majority aligns the
lattice. Spins start uniformly random; episodes are cut (truncated) after `max_cycles` steps.

Cheap enough for learning tests with a hundred agents, and the game mean-field learning was built for: an agent's
reward depends on the others only through its neighbours' mean action.
"""
from __future__ import annotations

import numpy as np
from gymnasium import spaces
from pettingzoo.utils.env import ParallelEnv

from algorithms.errors import MARLError


class IsingGame(ParallelEnv):
    metadata = {"name": "ising_v0", "render_modes": ["ansi"]}

    def __init__(self, size: int = 8, coupling: float = 1.0, field: float = 0.0, max_cycles: int = 50,
                 render_mode: str | None = None):
        if size < 2 or max_cycles < 1:
            raise MARLError("bad-env-kwarg", f"ising needs size >= 2 and max_cycles >= 1, got {size} and {max_cycles}")
        self.size, self.coupling, self.field, self.max_cycles = size, float(coupling), float(field), max_cycles
        self.render_mode = render_mode
        self.possible_agents = [f"spin_{i}" for i in range(size * size)]
        self.agents: list[str] = []
        self._obs_space = spaces.Box(-1.0, 1.0, (2,), np.float32)
        self._act_space = spaces.Discrete(2)
        self.spins = np.zeros((size, size), np.float32)
        self.rng = np.random.default_rng()
        self.cycle = 0

    def observation_space(self, agent: str) -> spaces.Space:
        return self._obs_space

    def action_space(self, agent: str) -> spaces.Space:
        return self._act_space

    def _neighbour_mean(self, spins: np.ndarray) -> np.ndarray:
        return (np.roll(spins, 1, 0) + np.roll(spins, -1, 0) + np.roll(spins, 1, 1) + np.roll(spins, -1, 1)) / 4

    def _observations(self, neighbour_mean: np.ndarray) -> dict[str, np.ndarray]:
        rows = np.stack([self.spins.ravel(), neighbour_mean.ravel()], axis=1).astype(np.float32)
        return dict(zip(self.possible_agents, rows))

    def state(self) -> np.ndarray:
        return self.spins.ravel().copy()

    def reset(self, seed: int | None = None, options: dict | None = None):
        if seed is not None:
            self.rng = np.random.default_rng(seed)
        self.agents, self.cycle = list(self.possible_agents), 0
        self.spins = self.rng.choice(np.array([-1.0, 1.0], np.float32), (self.size, self.size))
        return self._observations(self._neighbour_mean(self.spins)), {a: {} for a in self.agents}

    def step(self, actions: dict[str, int]):
        chosen = np.array([actions[a] for a in self.possible_agents], np.float32).reshape(self.size, self.size)
        self.spins = 2.0 * chosen - 1.0
        neighbour_mean = self._neighbour_mean(self.spins)  # the reward's and the next observation's
        rewards = (self.coupling * self.spins * neighbour_mean + self.field * self.spins).ravel()
        self.cycle += 1
        done = self.cycle >= self.max_cycles
        agents = self.possible_agents
        out = (self._observations(neighbour_mean), dict(zip(agents, rewards.tolist())), {a: False for a in agents},
               {a: done for a in agents}, {a: {} for a in agents})
        if done:
            self.agents = []
        return out

    def render(self) -> str:
        return "\n".join("".join("+" if s > 0 else "-" for s in row) for row in self.spins)

    def close(self) -> None:
        pass


GAMES = {"ising": IsingGame}
