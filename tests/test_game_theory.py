"""Exact stage-game solvers and exploitability against equilibria known in closed form."""
import numpy as np
import pytest

from algorithms.errors import MARLError
from algorithms.core.env_registry import make_env
from algorithms.core.game_theory import (best_response, bimatrix_equilibria, exploitability, exploitability_zero_sum,
                                         nash_conv, pure_equilibria, select_equilibrium, solve_zero_sum)
from algorithms.envs.matrix_games import BIASED_RPS, MATCHING_PENNIES, PRISONERS_DILEMMA, RPS

BIASED_EQ = np.array([1, 10, 5]) / 16
BATTLE_OF_SEXES = (np.array([[3.0, 0.0], [0.0, 2.0]]), np.array([[2.0, 0.0], [0.0, 3.0]]))


@pytest.mark.parametrize("payoff, equilibrium", [(MATCHING_PENNIES, [0.5, 0.5]), (RPS, [1 / 3] * 3),
                                                 (BIASED_RPS, BIASED_EQ)])
def test_zero_sum_lp_finds_the_known_equilibrium_and_value(payoff, equilibrium):
    x, y, value = solve_zero_sum(payoff)
    np.testing.assert_allclose(x, equilibrium, atol=1e-7)
    np.testing.assert_allclose(y, equilibrium, atol=1e-7)
    assert value == pytest.approx(0.0, abs=1e-9)


def test_zero_sum_lp_value_of_an_asymmetric_game():
    # A saddle point at (row 1, column 0): value 2. And a 2x2 without one: x = (0.4, 0.6), value 0.2.
    x, y, value = solve_zero_sum([[1, 5], [2, 3]])
    assert value == pytest.approx(2.0) and x.argmax() == 1 and y.argmax() == 0
    x, y, value = solve_zero_sum([[2, -1], [-1, 1]])
    np.testing.assert_allclose(x, [0.4, 0.6], atol=1e-7)
    assert value == pytest.approx(0.2)


def test_support_enumeration_finds_all_three_equilibria_of_battle_of_the_sexes():
    eqs = bimatrix_equilibria(*BATTLE_OF_SEXES)
    assert len(eqs) == 3
    pure = [(x.argmax(), y.argmax()) for x, y in eqs[:2]]
    assert pure == [(0, 0), (1, 1)]
    x, y = eqs[2]  # mixed: each player makes the other indifferent
    np.testing.assert_allclose(x, [0.6, 0.4], atol=1e-9)
    np.testing.assert_allclose(y, [0.4, 0.6], atol=1e-9)
    for x, y in eqs:
        assert nash_conv(*BATTLE_OF_SEXES, x, y) == pytest.approx(0.0, abs=1e-9)


def test_unique_pure_equilibrium_of_the_prisoners_dilemma():
    a = np.asarray(PRISONERS_DILEMMA, float)
    eqs = bimatrix_equilibria(a, a.T)
    assert len(eqs) == 1 and pure_equilibria(a, a.T) == [(1, 1)]
    np.testing.assert_array_equal(eqs[0][0], [0, 1])
    np.testing.assert_array_equal(eqs[0][1], [0, 1])
    # cooperating is exploitable: the row player gains 5 - 3 = 2 by defecting, the column player too
    assert nash_conv(a, a.T, [1, 0], [1, 0]) == pytest.approx(4.0)


def test_matching_pennies_as_a_bimatrix_game_gives_the_mixed_equilibrium():
    a = np.asarray(MATCHING_PENNIES, float)
    (x, y), = bimatrix_equilibria(a, -a)
    np.testing.assert_allclose(x, [0.5, 0.5])
    np.testing.assert_allclose(y, [0.5, 0.5])


def test_degenerate_games_return_pure_equilibria_and_selection_is_consistent():
    zeros = np.zeros((3, 3))
    eqs = bimatrix_equilibria(zeros, zeros)
    assert len(eqs) >= 9 and all(nash_conv(zeros, zeros, x, y) == 0 for x, y in eqs)
    x, y = select_equilibrium(zeros, zeros, "first")
    assert x.argmax() == 0 and y.argmax() == 0
    # welfare picks the Pareto-better of two coordination equilibria; first takes the row-major first
    a = np.array([[1.0, 0.0], [0.0, 2.0]])
    assert select_equilibrium(a, a, "welfare")[0].argmax() == 1
    assert select_equilibrium(a, a, "first")[0].argmax() == 0
    with pytest.raises(MARLError, match="unknown equilibrium selection"):
        select_equilibrium(a, a, "best")


def test_exploitability_of_biased_rps():
    """Exploitability = NashConv / 2 in payoff units; for a symmetric zero-sum game it is what a best
    response wins against the policy. Always-rock loses 25 to paper; uniform is beaten by rock: 25/3."""
    assert exploitability(BIASED_RPS, BIASED_EQ) == pytest.approx(0.0, abs=1e-12)
    assert exploitability(BIASED_RPS, [1, 0, 0]) == pytest.approx(25.0)
    assert exploitability(BIASED_RPS, [0, 0, 1]) == pytest.approx(50.0)
    assert exploitability(BIASED_RPS, [1 / 3] * 3) == pytest.approx(25 / 3)
    for p in ([1, 0, 0], [0.2, 0.5, 0.3], BIASED_EQ):
        assert exploitability_zero_sum(BIASED_RPS, p, p) == pytest.approx(exploitability(BIASED_RPS, p))
    np.testing.assert_array_equal(best_response(BIASED_RPS, [1, 0, 0]), [0, 1, 0])


def test_exploitability_zero_sum_with_different_seats():
    a = np.asarray(MATCHING_PENNIES, float)
    assert exploitability_zero_sum(a, [0.5, 0.5], [0.5, 0.5]) == pytest.approx(0.0)
    # row always heads, column always heads: column would switch (+2), row is already best: NashConv 2
    assert exploitability_zero_sum(a, [1, 0], [1, 0]) == pytest.approx(1.0)


def test_bad_inputs_are_advisor_errors():
    with pytest.raises(MARLError, match="symmetric zero-sum"):
        exploitability([[1, 0], [0, 1]], [0.5, 0.5])
    with pytest.raises(MARLError, match="probability vector"):
        exploitability(RPS, [0.5, 0.5])
    with pytest.raises(MARLError, match="same shape"):
        bimatrix_equilibria(np.zeros((2, 2)), np.zeros((2, 3)))
    with pytest.raises(MARLError, match="2-D"):
        solve_zero_sum([1, 2, 3])


def test_competitive_matrix_games_expose_their_payoffs_and_reward_each_player():
    for name, a in (("rps", RPS), ("matching_pennies", MATCHING_PENNIES), ("biased_rps", BIASED_RPS)):
        env = make_env(f"matrix:{name}")
        A, B = env.payoffs
        np.testing.assert_array_equal(A, a)
        np.testing.assert_array_equal(B, -np.asarray(a, np.float32))
        env.reset(seed=0)
        _, rewards, terms, _, _ = env.step({"agent_0": 0, "agent_1": 1})
        assert rewards == {"agent_0": a[0][1], "agent_1": -a[0][1]} and all(terms.values())
    env = make_env("matrix:prisoners_dilemma", {"repeat": 3, "observe_last_action": True})
    obs, _ = env.reset()
    assert obs["agent_0"].tolist() == [0, 0, 1] and env.state()[-1] == 1  # "first round" slots
    obs, rewards, terms, _, _ = env.step({"agent_0": 0, "agent_1": 1})
    assert rewards == {"agent_0": 0.0, "agent_1": 5.0} and not any(terms.values())
    assert obs["agent_0"].tolist() == [0, 1, 0] and obs["agent_1"].tolist() == [1, 0, 0]
    assert env.state().argmax() == 1  # joint action (0, 1) -> 0 * 2 + 1
    env.step({"agent_0": 1, "agent_1": 1})
    _, _, terms, _, _ = env.step({"agent_0": 1, "agent_1": 1})
    assert all(terms.values()) and env.agents == []
