"""Exact tic-tac-toe against uniformly random play, by expectimax over board strings: the reference the
self-play benchmark and tests measure the exact evaluator (training/competitive_eval.exact_vs_random) and the
trained policies against."""
from __future__ import annotations

import functools


def against_random(me: str, choose) -> tuple[float, float, float]:
    """Exact (win, draw, loss) of a tic-tac-toe player against uniformly random moves, by expectimax over
    board strings. `me` is "X" (first) or "O" (second); `choose(outcomes)` is the player: given the
    (win, draw, loss) after each of its legal moves, in cell order, it returns the one it takes. Cells are
    numbered as the env's actions; the set of lines is the same whether they run by row or by column."""
    lines = [(0, 1, 2), (3, 4, 5), (6, 7, 8), (0, 3, 6), (1, 4, 7), (2, 5, 8), (0, 4, 8), (2, 4, 6)]

    @functools.lru_cache(maxsize=None)
    def value(board: str, mover: str) -> tuple[float, float, float]:
        for a, b, c in lines:
            if board[a] != "." and board[a] == board[b] == board[c]:
                return (1.0, 0.0, 0.0) if board[a] == me else (0.0, 0.0, 1.0)
        free = [i for i, x in enumerate(board) if x == "."]
        if not free:
            return 0.0, 1.0, 0.0
        after = [value(board[:i] + mover + board[i + 1:], "O" if mover == "X" else "X") for i in free]
        if mover == me:
            return choose(after)
        return tuple(sum(column) / len(after) for column in zip(*after))

    return value("." * 9, "X")
