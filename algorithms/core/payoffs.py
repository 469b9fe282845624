"""Payoff matrices of one-shot matrix games, read from the env, and the exploitability of a joint policy in a
zero-sum one (used by self-play's pool selection and by competitive evaluation)."""
from __future__ import annotations

from typing import Any

import numpy as np

from algorithms.core.env_registry import make_env
from algorithms.core.game_theory import exploitability_zero_sum



def env_payoffs(env) -> tuple[np.ndarray, np.ndarray] | None:
    """(A, B): the row and column players' payoff matrices of a matrix-game env, or None for other envs.
    Built-in games expose `payoffs` (A, B); cooperative ones may expose a single `payoff` both receive."""
    raw = getattr(env, "unwrapped", env)
    if getattr(raw, "payoffs", None) is not None:
        a, b = (np.asarray(m, np.float64) for m in raw.payoffs)
        return a, b
    if getattr(raw, "payoff", None) is not None:
        a = np.asarray(raw.payoff, np.float64)
        return a, a
    return None


def source_payoffs(source: Any, env_kwargs: dict | None = None) -> tuple[np.ndarray, np.ndarray] | None:
    """(A, B) of a one-shot matrix game given as a VecEnv of PettingZoo copies or an env id, else None."""
    if isinstance(source, str):
        try:
            env = make_env(source, env_kwargs)
        except Exception:  # not buildable here: not a matrix game we can read
            return None
    else:
        copies = getattr(source, "copies", None)
        if not copies:
            return None
        env = copies[0].env
    if getattr(getattr(env, "unwrapped", env), "observe_last_action", False):
        return None  # observations change within an episode: not a one-shot game with one policy
    payoffs = env_payoffs(env)
    return payoffs if payoffs is not None and payoffs[0].ndim == 2 else None


def zero_sum_payoff(source: Any, env_kwargs: dict | None = None) -> np.ndarray | None:
    """The row player's payoff A if `source` (a VecEnv or an env id) is a zero-sum matrix game (B = -A)."""
    payoffs = source_payoffs(source, env_kwargs)
    if payoffs is None or not np.allclose(payoffs[1], -payoffs[0]):
        return None
    return payoffs[0]


def matrix_exploitability(payoff: np.ndarray, probs: np.ndarray) -> float:
    """Exploitability of the joint policy probs [2, A] (seat 0 plays rows, seat 1 columns; padded actions
    beyond the matrix are dropped) in the zero-sum game `payoff`."""
    rows, cols = payoff.shape
    x, y = probs[0, :rows], probs[1, :cols]
    return exploitability_zero_sum(payoff, x / x.sum(), y / y.sum())
