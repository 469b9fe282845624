"""Scripted heuristics to play against: pass one as `--set opponents=algorithms.envs.scripted:NAME`.

Each is called as fn(obs, action_mask, agent, rng) -> action (the contract in algorithms/core/opponents.py).
They are deliberately biased, so a learner has something to exploit and an opponent model something to
predict:

- `rps_rock60` (pettingzoo.classic:rps_v2): rock 60%, paper 20%, scissors 20%, whatever happened before.
  Best reply: always paper, +0.4 a round on average (+6 over rps_v2's 15 rounds); a perfect opponent
  model is right 60% of the time (chance: 1/3).
- `first_legal` (any game with action masks: tictactoe_v3, connect_four_v3): the lowest-numbered legal
  move 90% of the time, a uniformly random legal move otherwise. Its move is a function of the board,
  which every player observes, so a model can predict it (about 90% right) and a learner can set traps
  for it: in tic-tac-toe the first player wins in three moves (0, 4, 8) while it fills 1, 2, ...
- `uniform` (any discrete game): a uniformly random legal move; the unexploitable reference.
- `context_favourite` (matrix:context_rps): in each context its own favourite move (a fixed table, each move
  the favourite of a third of the contexts) 80% of the time, uniform otherwise: predictable from what every
  player observes, context by context. Best reply: +0.8 a round (+8 over 10 rounds); a perfect opponent
  model is right 0.87 of the time.
"""
from __future__ import annotations

import numpy as np

ROCK, PAPER, SCISSORS = 0, 1, 2


def rps_rock60(obs: np.ndarray, action_mask: np.ndarray | None, agent: str, rng: np.random.Generator) -> int:
    return int(rng.choice(3, p=[0.6, 0.2, 0.2]))


def first_legal(obs: np.ndarray, action_mask: np.ndarray | None, agent: str, rng: np.random.Generator) -> int:
    legal = np.flatnonzero(action_mask) if action_mask is not None else np.arange(1)
    if rng.random() < 0.9:
        return int(legal[0])
    return int(rng.choice(legal))


def uniform(obs: np.ndarray, action_mask: np.ndarray | None, agent: str, rng: np.random.Generator) -> int:
    if action_mask is None:
        raise ValueError("uniform needs an action mask to know the number of moves; use opponents=random")
    return int(rng.choice(np.flatnonzero(action_mask)))


# A fixed favourite move per context: every block of three consecutive contexts holds rock, paper and
# scissors once, in a random order (drawn once, seed fixed). Balanced, so no single reply beats it across
# contexts: a learner has to tell the contexts apart.
CONTEXT_FAVOURITE = np.concatenate([np.random.default_rng(2016 + b).permutation(3) for b in range(342)])[:1024]


def context_favourite(obs: np.ndarray, action_mask: np.ndarray | None, agent: str, rng: np.random.Generator) -> int:
    if rng.random() < 0.8:
        return int(CONTEXT_FAVOURITE[int(np.argmax(obs)) % len(CONTEXT_FAVOURITE)])
    return int(rng.integers(3))
