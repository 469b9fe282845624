"""The two grid games of Hu & Wellman 2003 (Nash Q-learning, Sec. 5.1), PettingZoo ParallelEnv API.

`--env grid:game1` and `--env grid:game2`. A 3x3 grid; cells are numbered as in the paper, 0-8 from the
lower-left corner row by row (cell = 3 * row + column, row 0 at the bottom):

    6 7 8
    3 4 5
    0 1 2

Two agents move at once; each picks up, down, left or right (actions 0-3). agent_0 (the paper's agent 1)
starts in cell 0, agent_1 (agent 2) in cell 2.

- Grid Game 1: agent_0's goal is cell 8 (upper right), agent_1's is cell 6 (upper left): they must cross.
- Grid Game 2: both agents' goal is cell 7 (upper middle). Barriers lie above cells 0 and 2: an agent
  moving up from cell 0 or cell 2 passes with probability `barrier_pass` (0.5) and otherwise stays put.

Rules implemented (the paper describes them in prose; where it is silent we chose, marked "choice"):
- An agent reaching its goal cell gets `goal_reward` (100); every other move gets 0. A goal cell may hold
  both agents (Grid Game 2's shared goal). `ends_when`: "first" (default, our reading of the paper) - the
  episode ends for both agents as soon as at least one reaches its goal, agents arriving at the same step
  each rewarded; "both" (choice, an alternative) - an agent at its goal is done (terminated, removed from
  `agents`, no further reward) and stays there while the other plays on to its own goal.
  With "first", exact Nash value iteration (gamma 0.99) gives Grid Game 2's start state two pure
  equilibria, (right, up) and (up, left): the agent that goes through the middle gets 100 gamma^2 = 98.01,
  the one that tries its barrier 0.5 * 98.01 = 49.0 (it is in time only if the barrier lets it through at
  once), and both moving to cell 1 collide. (We could not check these numbers against the paper's tables.)
- If both agents would end on the same non-goal cell, they bounce back to their previous cells and each
  gets `collision_reward` (-1). This also covers moving into the cell of an agent that does not move
  (blocked by the edge or a barrier). Choice: swapping cells head-on is a collision too (same effect).
- A move off the grid leaves the agent where it is, reward 0 (choice; the paper only says agents stay on
  the grid).
- Choice: episodes are cut after `max_cycles` (default 50) steps (truncated); the paper's games run
  until a goal is reached.
Observations: every agent sees the full joint position as a one-hot over the 81 joint positions
(index 9 * cell_0 + cell_1, the same as `state()` and `state_index()`), so tabular learners can key on it.
"""
from __future__ import annotations

import numpy as np
from gymnasium import spaces
from pettingzoo.utils.env import ParallelEnv

from algorithms.errors import MARLError

SIZE = 3
ACTIONS = ("up", "down", "left", "right")
MOVES = ((0, 1), (0, -1), (-1, 0), (1, 0))  # (column, row) change per action
N_CELLS = SIZE * SIZE
N_STATES = N_CELLS * N_CELLS


class GridGame(ParallelEnv):
    """Two agents on a 3x3 grid racing to their goal cells (Hu & Wellman 2003)."""

    metadata = {"name": "grid_game_v0", "render_modes": ["ansi"]}

    def __init__(self, name: str, goals: tuple[int, int], barrier_cells: tuple[int, ...] = (),
                 barrier_pass: float = 0.5, starts: tuple[int, int] = (0, 2), max_cycles: int = 50,
                 goal_reward: float = 100.0, collision_reward: float = -1.0, ends_when: str = "first",
                 render_mode: str | None = None):
        if ends_when not in ("both", "first"):
            raise MARLError("bad-env-kwarg", f"ends_when must be 'both' or 'first', got {ends_when!r}")
        if not 0.0 <= barrier_pass <= 1.0:
            raise MARLError("bad-env-kwarg", f"barrier_pass must lie in [0, 1], got {barrier_pass}")
        if int(max_cycles) < 1:
            raise MARLError("bad-env-kwarg", f"max_cycles must be at least 1, got {max_cycles}")
        self.metadata = {**self.metadata, "name": name}
        self.goals, self.starts, self.barrier_cells = tuple(goals), tuple(starts), tuple(barrier_cells)
        self.barrier_pass, self.max_cycles = float(barrier_pass), int(max_cycles)
        self.goal_reward, self.collision_reward = float(goal_reward), float(collision_reward)
        self.ends_when = ends_when
        self.render_mode = render_mode
        self.possible_agents = ["agent_0", "agent_1"]
        self.agents: list[str] = []
        self.positions = list(self.starts)
        self.steps = 0
        self._rng = np.random.default_rng(0)
        self._obs_space = spaces.Box(0.0, 1.0, (N_STATES,), np.float32)

    def observation_space(self, agent: str) -> spaces.Space:
        return self._obs_space

    def action_space(self, agent: str) -> spaces.Space:
        return spaces.Discrete(len(ACTIONS))

    def state_index(self) -> int:
        """The joint position as one integer in [0, 81): 9 * cell of agent_0 + cell of agent_1."""
        return self.positions[0] * N_CELLS + self.positions[1]

    def state(self) -> np.ndarray:
        out = np.zeros(N_STATES, np.float32)
        out[self.state_index()] = 1.0
        return out

    def _observations(self) -> dict[str, np.ndarray]:
        return {a: self.state() for a in self.possible_agents}

    def reset(self, seed: int | None = None, options: dict | None = None):
        if seed is not None:
            self._rng = np.random.default_rng(seed)
        self.agents = list(self.possible_agents)
        self.positions, self.steps = list(self.starts), 0
        return self._observations(), {a: {} for a in self.agents}

    def _target(self, cell: int, action: int) -> int:
        """Where a move would take the agent, before collisions (edges and barriers applied)."""
        col, row = cell % SIZE, cell // SIZE
        dc, dr = MOVES[action]
        if not (0 <= col + dc < SIZE and 0 <= row + dr < SIZE):
            return cell
        if action == 0 and cell in self.barrier_cells and self._rng.random() >= self.barrier_pass:
            return cell
        return (row + dr) * SIZE + col + dc

    def step(self, actions: dict[str, int]):
        if not self.agents:
            raise RuntimeError("step() called on a finished grid game; call reset() first")
        live = [a in self.agents for a in self.possible_agents]  # an agent done at its goal stays put
        old = list(self.positions)
        new = [self._target(old[i], int(actions[a])) if live[i] else old[i] for i, a in enumerate(self.possible_agents)]
        goal_cells = set(self.goals)
        same = new[0] == new[1] and new[0] not in goal_cells
        swap = new[0] == old[1] and new[1] == old[0] and old[0] != old[1] and not goal_cells & set(new)
        if same or swap:
            new, rewards = old, [self.collision_reward] * 2
        else:
            rewards = [self.goal_reward if live[i] and new[i] == self.goals[i] else 0.0 for i in range(2)]
        self.positions = new
        self.steps += 1
        arrived = [new[i] == self.goals[i] for i in range(2)]
        over = any(arrived) if self.ends_when == "first" else all(arrived)
        cut = self.steps >= self.max_cycles
        agents = list(self.agents)
        terms = {a: over or arrived[i] for i, a in enumerate(self.possible_agents) if a in agents}
        truncs = {a: cut and not terms[a] for a in agents}
        self.agents = [a for a in agents if not (terms[a] or truncs[a])]
        return ({a: self.state() for a in agents}, {a: rewards[self.possible_agents.index(a)] for a in agents},
                terms, truncs, {a: {} for a in agents})

    def render(self) -> str | None:
        if self.render_mode != "ansi":
            return None
        rows = []
        for row in reversed(range(SIZE)):
            cells = []
            for col in range(SIZE):
                cell = row * SIZE + col
                here = "".join(str(i) for i in range(2) if self.positions[i] == cell)
                mark = "G" if cell in self.goals else ("=" if cell in self.barrier_cells else ".")
                cells.append(f"{here or mark:>2}")
            rows.append(" ".join(cells))
        return "\n".join(rows)

    def close(self) -> None:
        pass


def game1(max_cycles: int = 50, ends_when: str = "first", render_mode: str | None = None) -> GridGame:
    """Grid Game 1: separate goals in the opposite upper corners, no barriers."""
    return GridGame("grid_game1", goals=(8, 6), max_cycles=max_cycles, ends_when=ends_when, render_mode=render_mode)


def game2(max_cycles: int = 50, barrier_pass: float = 0.5, ends_when: str = "first",
          render_mode: str | None = None) -> GridGame:
    """Grid Game 2: one shared goal (upper middle), barriers above both start cells."""
    return GridGame("grid_game2", goals=(7, 7), barrier_cells=(0, 2), barrier_pass=barrier_pass,
                    max_cycles=max_cycles, ends_when=ends_when, render_mode=render_mode)


GAMES = {"game1": game1, "game2": game2}  # `grid:NAME` (listed by core/env_registry.py)
