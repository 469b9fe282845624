"""Elo ratings (Elo 1978) for two-player games: expected score and the zero-sum, symmetric update.

A player rated R_a meets one rated R_b. The expected score of a (win 1, draw 0.5, loss 0) is
    E_a = 1 / (1 + 10 ** ((R_b - R_a) / SCALE)),      and E_b = 1 - E_a.
After a game with score s_a (s_b = 1 - s_a), both ratings move by the same amount in opposite directions:
    R_a += K (s_a - E_a),   R_b += K (s_b - E_b) = -K (s_a - E_a).
So the update is zero-sum (the two changes add to 0) and symmetric (swapping the players swaps the
changes). K sets how far one game moves a rating: FIDE uses 10 to 40; the default 16 is the usual choice
for players with many games, and self-play plays many. 400 is the conventional scale: a 400-point gap
means the stronger player is expected to score 10 times as often as the weaker one.
"""
from __future__ import annotations

INITIAL = 1000.0  # a new player's rating (only differences matter)
K = 16.0          # rating points moved by one surprising game
SCALE = 400.0     # rating difference at which the expected-score odds are 10:1


def expected_score(rating: float, opponent: float, scale: float = SCALE) -> float:
    """Probability-like expected score (win 1, draw 0.5) of a player rated `rating` against `opponent`."""
    return 1.0 / (1.0 + 10.0 ** ((opponent - rating) / scale))


def score_of(learner_return: float) -> float:
    """A zero-sum game's outcome from a player's episode return: win 1, draw 0.5, loss 0."""
    return 1.0 if learner_return > 0 else 0.0 if learner_return < 0 else 0.5


def elo_update(rating_a: float, rating_b: float, score_a: float, k: float = K,
               scale: float = SCALE) -> tuple[float, float]:
    """New (rating_a, rating_b) after one game in which a scored `score_a` (1 win, 0.5 draw, 0 loss)."""
    if not 0.0 <= score_a <= 1.0:
        raise ValueError(f"score_a must lie in [0, 1], got {score_a}")
    delta = k * (score_a - expected_score(rating_a, rating_b, scale))
    return rating_a + delta, rating_b - delta
