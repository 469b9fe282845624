"""Exact equilibria and exploitability of two-player normal-form (matrix) games.

Conventions used everywhere in this module (and by Nash-Q, self-play and competitive evaluation):
- `A[i, j]` is the row player's payoff and `B[i, j]` the column player's when the row player plays i and
  the column player plays j. In a zero-sum game only `payoff = A` is given and the column player gets -A.
- Strategies are probability vectors: `x` over rows, `y` over columns.
- NashConv = sum over the two players of (best-response value - current value); it is 0 exactly at a
  Nash equilibrium. **Exploitability = NashConv / 2** (the OpenSpiel convention: the mean gain of a
  best-responding deviator). For a zero-sum game this is (max_i (A y)_i - min_j (x A)_j) / 2, and for a
  symmetric zero-sum game (A = -A^T, value 0) where both seats play `p` it is max_i (A p)_i: what a best
  response wins against `p`. All values are in the units of the payoff matrix (no rescaling).

Solvers:
- `solve_zero_sum`: the maximin / minimax linear programmes (scipy's HiGHS), exact up to LP tolerance.
- `bimatrix_equilibria`: support enumeration over equal-size supports (Nisan et al. 2007, Sec. 3.3; the
  same enumeration as nashpy's `support_enumeration`). In a nondegenerate game it returns every
  equilibrium. In a degenerate game (ties, e.g. an all-zero stage game at the start of Nash-Q) every pure
  equilibrium is still found (supports of size 1), and mixed ones whose supports have equal size; an
  equilibrium component whose supports differ in size, or a continuum, is represented only by the points
  found. Duplicates are removed. If the enumeration finds nothing (possible only in degenerate games),
  the game is perturbed by a tiny fixed, seeded amount (1e-7 of the payoff scale) and the perturbed
  game's equilibria are returned: they are epsilon-equilibria of the original game (check `nash_conv`).
- `select_equilibrium`: Nash-Q's selection rule (see its docstring).
"""
from __future__ import annotations

import itertools
from typing import Iterator

import numpy as np
from scipy.optimize import linprog

from algorithms.errors import MARLError

TOL = 1e-9


def _matrix(m, name: str) -> np.ndarray:
    m = np.asarray(m, dtype=np.float64)
    if m.ndim != 2 or 0 in m.shape or not np.all(np.isfinite(m)):
        raise MARLError("bad-payoff", f"{name} must be a finite, non-empty 2-D payoff matrix, got shape {m.shape}")
    return m


def _distribution(p, size: int, name: str) -> np.ndarray:
    p = np.asarray(p, dtype=np.float64).reshape(-1)
    if p.size != size or np.any(p < -1e-8) or abs(p.sum() - 1.0) > 1e-6:
        raise MARLError("bad-policy", f"{name} must be a probability vector of length {size}, got {p.round(4).tolist()}")
    return np.clip(p, 0.0, None) / np.clip(p, 0.0, None).sum()


def _clean(p: np.ndarray) -> np.ndarray:
    p = np.where(p < TOL, 0.0, p)
    return p / p.sum()


# ---------------------------------------------------------------------------------------------------
# Two-player zero-sum: linear programming


def solve_zero_sum(payoff) -> tuple[np.ndarray, np.ndarray, float]:
    """Maximin strategy x of the row player, minimax strategy y of the column player and the game value v
    (the row player's expected payoff; the column player gets -payoff[i, j]).

    Row LP: maximise v s.t. (x A)_j >= v for every column j, sum x = 1, x >= 0. Column LP: minimise w s.t.
    (A y)_i <= w for every row i. By the minimax theorem both optima equal v."""
    A = _matrix(payoff, "payoff")
    m, n = A.shape
    # variables [x_1..x_m, v]; minimise -v; constraint v - (x A)_j <= 0
    row = linprog(np.r_[np.zeros(m), -1.0], A_ub=np.c_[-A.T, np.ones(n)], b_ub=np.zeros(n),
                  A_eq=np.r_[np.ones(m), 0.0][None], b_eq=[1.0],
                  bounds=[(0, None)] * m + [(None, None)], method="highs")
    # variables [y_1..y_n, w]; minimise w; constraint (A y)_i - w <= 0
    col = linprog(np.r_[np.zeros(n), 1.0], A_ub=np.c_[A, -np.ones(m)], b_ub=np.zeros(m),
                  A_eq=np.r_[np.ones(n), 0.0][None], b_eq=[1.0],
                  bounds=[(0, None)] * n + [(None, None)], method="highs")
    if row.status != 0 or col.status != 0:  # cannot happen for a finite matrix; kept as a clear failure
        raise MARLError("solver-failed", f"the zero-sum LP failed: {row.message} / {col.message}")
    return _clean(row.x[:m]), _clean(col.x[:n]), float(-row.fun) + 0.0  # + 0.0: no -0.0


# ---------------------------------------------------------------------------------------------------
# General-sum bimatrix games: support enumeration


def pure_equilibria(A, B) -> list[tuple[int, int]]:
    """Every pure equilibrium (i, j): row i is a best response to column j and j to i (row-major order)."""
    return list(_pure_equilibria(_matrix(A, "A"), _matrix(B, "B")))


def _pure_equilibria(A: np.ndarray, B: np.ndarray) -> Iterator[tuple[int, int]]:
    """(i, j) where i is a best response to j and j to i, in row-major order."""
    best = (A >= A.max(axis=0, keepdims=True) - TOL) & (B >= B.max(axis=1, keepdims=True) - TOL)
    for i, j in zip(*np.nonzero(best)):
        yield int(i), int(j)


def _indifferent(M: np.ndarray, support: tuple[int, ...], other: tuple[int, ...]) -> np.ndarray | None:
    """The mix over `other` (columns of M) that makes every row in `support` equally good, or None.
    Solves [M[support, other]  -1; 1 .. 1  0] [z; u] = [0; 1] (least squares if singular, then checked)."""
    k = len(support)
    system = np.zeros((k + 1, k + 1))
    system[:k, :k] = M[np.ix_(support, other)]
    system[:k, k] = -1.0
    system[k, :k] = 1.0
    rhs = np.zeros(k + 1)
    rhs[k] = 1.0
    solution = np.linalg.lstsq(system, rhs, rcond=None)[0]
    if np.abs(system @ solution - rhs).max() > 1e-7 or np.any(solution[:k] < -TOL):
        return None
    return solution[:k]


def _support_enumeration(A: np.ndarray, B: np.ndarray) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Equilibria on equal-size supports: pure ones first (row-major), then by support size, then
    lexicographically by (row support, column support)."""
    m, n = A.shape
    for i, j in _pure_equilibria(A, B):
        yield np.eye(m)[i], np.eye(n)[j]
    scale = max(np.abs(A).max(), np.abs(B).max(), 1.0)
    for k in range(2, min(m, n) + 1):
        for rows in itertools.combinations(range(m), k):
            for cols in itertools.combinations(range(n), k):
                y_s = _indifferent(A, rows, cols)        # column mix making the rows indifferent
                if y_s is None:
                    continue
                x_s = _indifferent(B.T, cols, rows)      # row mix making the columns indifferent
                if x_s is None:
                    continue
                x, y = np.zeros(m), np.zeros(n)
                x[list(rows)], y[list(cols)] = x_s, y_s
                x, y = np.clip(x, 0, None) / np.clip(x, 0, None).sum(), np.clip(y, 0, None) / np.clip(y, 0, None).sum()
                if np.count_nonzero(x > TOL) < k or np.count_nonzero(y > TOL) < k:
                    continue  # a smaller support's equilibrium, already reported there
                if (A @ y).max() <= x @ A @ y + 1e-9 * scale and (x @ B).max() <= x @ B @ y + 1e-9 * scale:
                    yield x, y


def _perturbed(A: np.ndarray, B: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    scale = 1e-7 * max(np.abs(A).max(), np.abs(B).max(), 1.0)
    return A + scale * rng.standard_normal(A.shape), B + scale * rng.standard_normal(B.shape)


def bimatrix_equilibria(A, B) -> list[tuple[np.ndarray, np.ndarray]]:
    """Every Nash equilibrium (x, y) of the bimatrix game (A, B) found by support enumeration, in the
    order of `select_equilibrium(rule="first")`; see the module docstring for degenerate games."""
    A, B = _matrix(A, "A"), _matrix(B, "B")
    if A.shape != B.shape:
        raise MARLError("bad-payoff", f"A and B must have the same shape, got {A.shape} and {B.shape}")
    found: list[tuple[np.ndarray, np.ndarray]] = []
    for x, y in _support_enumeration(A, B):
        if not any(np.allclose(x, fx, atol=1e-7) and np.allclose(y, fy, atol=1e-7) for fx, fy in found):
            found.append((x, y))
    if not found:
        found = list(_support_enumeration(*_perturbed(A, B)))
    return found


SELECTION_RULES = ("first", "welfare")


def select_equilibrium(A, B, rule: str = "first") -> tuple[np.ndarray, np.ndarray]:
    """One equilibrium of (A, B), chosen the same way every time, so both of Nash-Q's agents (who compute
    it from the same pair of Q tables) agree on it.

    - "first" (default): the first equilibrium support enumeration finds: a pure one if the game has
      any (the first in row-major order), else the mixed one with the smallest, lexicographically first
      supports. Hu & Wellman 2003 (Sec. 4.3 and 5) take the first equilibrium their solver (Lemke-Howson)
      returns and rely on both agents using the same one; ours is the same idea with a documented order.
      Only the first is computed (lazily), so this is cheap when a pure equilibrium exists.
    - "welfare": among the pure equilibria if the game has any, else among all equilibria found, one with
      the largest sum of the two players' values (ties: the first). Favours coordination ("global optimum"
      stage games in Hu & Wellman's Assumption 3); restricting to pure ones keeps it cheap in degenerate games."""
    if rule not in SELECTION_RULES:
        raise MARLError("bad-config-value", f"unknown equilibrium selection '{rule}'",
                           f"choose one of {', '.join(SELECTION_RULES)}")
    A, B = _matrix(A, "A"), _matrix(B, "B")
    if rule == "first":
        first = next(_support_enumeration(A, B), None)
        if first is not None:
            return first
        return bimatrix_equilibria(A, B)[0]
    pure = list(_pure_equilibria(A, B))
    candidates = [(np.eye(A.shape[0])[i], np.eye(A.shape[1])[j]) for i, j in pure] or bimatrix_equilibria(A, B)
    welfare = [float(x @ (A + B) @ y) for x, y in candidates]
    return candidates[int(np.argmax(welfare))]


# ---------------------------------------------------------------------------------------------------
# Distance from equilibrium


def nash_conv(A, B, x, y) -> float:
    """Sum over both players of (best-response value - current value): 0 exactly at an equilibrium."""
    A, B = _matrix(A, "A"), _matrix(B, "B")
    x, y = _distribution(x, A.shape[0], "x"), _distribution(y, A.shape[1], "y")
    return float(((A @ y).max() - x @ A @ y) + ((x @ B).max() - x @ B @ y))


def exploitability_zero_sum(payoff, x, y) -> float:
    """NashConv / 2 of (x, y) in the zero-sum game `payoff` (row player's payoff; column gets -payoff):
    (max_i (A y)_i - min_j (x A)_j) / 2, in payoff units. 0 exactly at a minimax equilibrium."""
    A = _matrix(payoff, "payoff")
    return 0.5 * nash_conv(A, -A, x, y)


def exploitability(payoff, policy) -> float:
    """Exploitability of `policy` played in both seats of a symmetric zero-sum game (payoff = -payoff^T,
    so the value is 0): max_i (payoff @ policy)_i - policy @ payoff @ policy = max_i (payoff @ policy)_i,
    the value a best response wins against it, in payoff units. Equals exploitability_zero_sum(payoff,
    policy, policy). Biased RPS: 0 at (1/16, 10/16, 5/16); always-rock is exploited by paper for 25."""
    A = _matrix(payoff, "payoff")
    if A.shape[0] != A.shape[1] or not np.allclose(A, -A.T):
        raise MARLError("not-symmetric-zero-sum", "exploitability(payoff, policy) needs a symmetric zero-sum "
                           f"game (payoff = -payoff^T); this {A.shape} matrix is not one",
                           "use exploitability_zero_sum(payoff, x, y) with a policy per seat, or nash_conv(A, B, x, y)")
    p = _distribution(policy, A.shape[0], "policy")
    return float((A @ p).max() - p @ A @ p)


def best_response(payoff, opponent) -> np.ndarray:
    """A pure best response (one-hot, lowest index among ties) of the row player to the column mix `opponent`."""
    A = _matrix(payoff, "payoff")
    values = A @ _distribution(opponent, A.shape[1], "opponent")
    return np.eye(A.shape[0])[int(np.argmax(values >= values.max() - TOL))]
