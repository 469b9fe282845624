"""What each value factorisation learns on the built-in matrix games under uniform exploration.

Every learner here explores uniformly for the whole run (epsilon = 1), so the data is the same for all of
them and the greedy joint action they end on shows only what their value factorisation can represent.
The runs were measured before the assertions were written (seeds 0, 1, 2 each; see the test docstrings).
"""
import numpy as np
import pytest
import torch

from algorithms import make
from algorithms.core.env_registry import make_vec_env
from algorithms.envs.matrix_games import NONMONOTONIC, penalty_payoff

SEEDS = (0, 1, 2)
# The default (parallel) schedule: each 32-episode collection trained on for 4 epochs of one step, then dropped.
# A 64-wide agent network without LayerNorm, as in the papers: with the 256-wide LayerNorm default QMIX found
# (A, A) on seed 0 of the non-monotonic game (measured 2026-12-08), which says more about its network than about
# its factorisation. The settings these tables were measured with:
UNIFORM = {"rollout_steps": 4, "minibatches": 1, "epsilon_start": 1.0, "epsilon_finish": 1.0, "lr": 3e-3,
           "hidden_size": 64, "layer_norm": False, "standardise_rewards": False, "gamma": 0.99}


def greedy_joint_action(algo_id: str, game: str, seed: int, steps: int, **env_kwargs) -> tuple[int, int]:
    """Train with uniform exploration on 8 copies (32 one-step episodes and 4 gradient steps per iteration)."""
    torch.manual_seed(seed)
    envs = make_vec_env(f"matrix:{game}", env_kwargs, num_envs=8)
    algo = make(algo_id, envs, **UNIFORM)
    algo.begin(envs.reset(seed=seed))
    algo.learn(steps)
    actions, _ = algo.act(envs.reset(seed=seed), None, deterministic=True)
    return int(actions[0, 0]), int(actions[0, 1])


@pytest.mark.parametrize("algo_id", ["vdn", "qmix"])
def test_monotonic_factorisations_miss_the_nonmonotonic_optimum(algo_id):
    """Son et al. 2019 (QTRAN), Table 1 / Sec. 4.1; Rashid et al. 2020 (Weighted QMIX), Fig. 1: fitted
    to uniformly explored data, VDN's and QMIX's greedy joint action falls in the 0 block, never (A, A) = 8
    (VDN's least-squares utilities are the row/column means: A -5.3, B and C -4).
    Measured here (seeds 0, 1, 2, 500 updates): VDN and QMIX both reach payoff 0 on every seed."""
    for seed in SEEDS:
        joint = greedy_joint_action(algo_id, "nonmonotonic", seed, steps=4000)
        assert NONMONOTONIC[joint[0]][joint[1]] <= 0, (seed, joint)
        assert joint != (0, 0)


def test_qplex_recovers_the_nonmonotonic_optimum():
    """Wang et al. 2021 (QPLEX), Sec. 5.1 and Table 2: duplex dueling represents the full IGM class and
    learns (A, A) = 8 of this matrix from uniform data. Measured here (seeds 0, 1, 2, lr 3e-3): (A, A) on
    every seed after 2,000 updates (1,500 updates: 2 of 3; lr 5e-4, 2,000 updates: 1 of 3)."""
    for seed in SEEDS:
        assert greedy_joint_action("qplex", "nonmonotonic", seed, steps=16000) == (0, 0), seed


def test_iql_settles_on_the_safe_corner_of_the_climbing_game():
    """Claus & Boutilier 1998, Sec. 4 (climbing game): independent learners do not find (a, a) = 11.
    Under uniform exploration each agent's Q is its row/column mean (a: -6.3, b: -5.7, c: 1.7 for the row
    player; a: -6.3, b: -7.7, c: 3.7 for the column player), so both choose c and the team gets (c, c) = 5.
    Measured here (seeds 0, 1, 2): (c, c) on every seed."""
    for seed in SEEDS:
        assert greedy_joint_action("iql", "climbing", seed, steps=4000) == (2, 2), seed


def test_iql_avoids_the_penalty_and_plays_the_safe_equilibrium():
    """Claus & Boutilier 1998, Sec. 4 (penalty game, k = -100): the miscoordination penalty drives
    independent learners to the safe (b, b) = 2 instead of either optimum (a, a) = (c, c) = 10: under
    uniform exploration a and c are worth (10 + k) / 3 = -30 and b 2 / 3. Measured here (seeds 0, 1, 2):
    (b, b) on every seed."""
    for seed in SEEDS:
        assert greedy_joint_action("iql", "penalty", seed, steps=4000) == (1, 1), seed
    assert np.asarray(penalty_payoff(-100))[1, 1] == 2
