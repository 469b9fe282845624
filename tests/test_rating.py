"""Elo ratings: expected scores, and updates that are zero-sum and symmetric."""
import itertools

import pytest

from algorithms.core.rating import INITIAL, K, elo_update, expected_score, score_of

RATINGS = (600.0, 1000.0, 1000.0 + 1e-9, 1234.5, 1800.0)


@pytest.mark.parametrize("a, b", list(itertools.product(RATINGS, RATINGS)))
@pytest.mark.parametrize("score", [0.0, 0.5, 1.0])
def test_updates_are_zero_sum_and_symmetric(a, b, score):
    new_a, new_b = elo_update(a, b, score)
    assert (new_a - a) + (new_b - b) == pytest.approx(0.0, abs=1e-9)   # zero-sum
    swapped_b, swapped_a = elo_update(b, a, 1.0 - score)                # the same game seen from b
    assert swapped_a == pytest.approx(new_a) and swapped_b == pytest.approx(new_b)  # symmetric
    assert abs(new_a - a) <= K


def test_expected_scores():
    assert expected_score(INITIAL, INITIAL) == 0.5
    assert expected_score(1400.0, 1000.0) == pytest.approx(10 / 11)  # 400 points: 10:1 odds
    for a, b in itertools.product(RATINGS, RATINGS):
        assert expected_score(a, b) + expected_score(b, a) == pytest.approx(1.0)


def test_winner_gains_and_an_expected_result_moves_little():
    up, down = elo_update(1000.0, 1000.0, 1.0)
    assert up == 1000.0 + K / 2 and down == 1000.0 - K / 2
    draw = elo_update(1000.0, 1000.0, 0.5)
    assert draw == (1000.0, 1000.0)
    favourite_wins = elo_update(1800.0, 1000.0, 1.0)[0] - 1800.0
    assert 0 < favourite_wins < 0.011 * K  # a 99% favourite winning is hardly news
    with pytest.raises(ValueError):
        elo_update(1000.0, 1000.0, 1.5)


def test_score_from_a_zero_sum_return():
    assert [score_of(r) for r in (3.0, 0.0, -0.5)] == [1.0, 0.5, 0.0]
