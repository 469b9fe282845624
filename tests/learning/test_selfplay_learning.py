"""Self-play learning: exploitability of the pool on matrix games, tic-tac-toe against random play."""
import numpy as np

from algorithms.training.competitive_eval import exact_vs_random
from tests.helpers import trained_self_play

TICTACTOE = "pettingzoo.classic:tictactoe_v3"
MATRIX = {"rollout_steps": 8, "pool_size": 100, "snapshot_every": 2, "lr": 1e-4, "entropy_coef": 0.01}  # 128 games an iteration
PSRO = {**MATRIX, "lr": 1e-3, "entropy_coef": 0.05, "opponent_sampling": "nash"}


def test_pool_average_on_biased_rps_is_far_less_exploitable_than_naive_self_play():
    """Biased RPS (equilibrium (1/16, 10/16, 5/16); uniform play is exploitable for 8.33, pure paper for 5,
    rock 25, scissors 50). 16k games (16 copies), the pool keeps every snapshot (fictitious play's average).
    Measured exploitability (NashConv / 2, payoff units), seeds 0 / 1:
      pool average, uniform sampling:                      1.97 / 1.81   (seed 2: 1.91, naive last 40.3)
      naive self-play (latest), last iterate at the end:   30.2 / 23.2
      naive self-play, last iterate, mean over last half:  35.4 / 17.1   (it cycles between pure strategies)
    Asserted: pool average < 3 (under half of uniform play's 8.33), and 3x below the naive mean."""
    for seed in (0, 1):
        pooled = trained_self_play("matrix:biased_rps", 16_000, seed, num_envs=16, **MATRIX)[1]
        naive = trained_self_play("matrix:biased_rps", 16_000, seed, num_envs=16, **MATRIX, opponent_sampling="latest")[1]
        naive_last = np.mean([m["selfplay/exploitability_latest"] for m in naive[len(naive) // 2:]])
        assert pooled[-1]["selfplay/exploitability"] < 3.0
        assert pooled[-1]["selfplay/exploitability"] < naive_last / 3


def test_pool_average_on_rps_is_nearly_unexploitable():
    """Plain RPS (win 1 / lose 1). 8k games; measured pool-average exploitability 0.010 / 0.011 / 0.026 (seeds
    0 / 1 / 2); asserted for seed 0: < 0.05. Uniform play passes this by accident, hence the biased-RPS test above."""
    pooled = trained_self_play("matrix:rps", 8_000, 0, num_envs=16, **MATRIX)[1]
    assert pooled[-1]["selfplay/exploitability"] < 0.05


def test_psro_meta_nash_pool_on_biased_rps_is_unexploitable():
    """PSRO (opponent_sampling=nash): the learner trains against the pool weighted by the meta-Nash, and that
    weighted pool is the policy measured. 16k games (16 copies), lr 1e-3, entropy 0.05 (a purer learner
    collapses onto one action and stops finding best responses). Measured exploitability of the weighted
    pool at the end, seeds 0-7: 0.0000 for seeds 0-6 (once the members' mixtures surround the equilibrium,
    the LP weights play it exactly), 4.94 for seed 7 (the learner collapsed onto paper: every member is
    paper, and PPO's best response to it, scissors, has vanishing probability). Uniform (fictitious-play)
    weights on the same budget: 1.8-2.0, above. Asserted for seeds 0 and 1: below 0.1, and 10x below
    naive self-play's last iterate."""
    for seed in (0, 1):
        history = trained_self_play("matrix:biased_rps", 16_000, seed, num_envs=16, **PSRO)[1]
        naive = trained_self_play("matrix:biased_rps", 16_000, seed, num_envs=16, **{**PSRO, "opponent_sampling": "latest"})[1]
        naive_last = np.mean([m["selfplay/exploitability_latest"] for m in naive[len(naive) // 2:]])
        assert history[-1]["selfplay/exploitability"] < 0.1 < naive_last / 10, (history[-1], naive_last)


def test_tictactoe_agent_beats_random_play_from_both_seats():
    """20k env steps (defaults, 8 copies), then the greedy policy's exact rates against uniformly random legal
    moves in each seat (exact_vs_random: the whole tree, no sampling error). Random against random wins 58%
    first / 29% second. Measured win / loss, seed 0 (seed 1 in brackets): first 0.927 / 0.042 (0.854 /
    0.096), second 0.703 / 0.263 (0.613 / 0.330). The issue's bar (>= 90% wins, <= 2% losses in both seats)
    needs far longer training and, as second player, near-perfect play against random (the exact best wins
    93.2% with 0.7% losses): `python benchmarks/selfplay.py --only tictactoe --seeds 0,1,2,3,4` measures it
    with docs/self-play.md's recipe (random-play anchor, 256-step rollouts): every seed holds the bar from 600k-1M
    steps to 1.2M (seed 0 at 1.2M: first 0.984 / 0.000, second 0.915 / 0.005; about 7 minutes a seed).
    Asserted for seed 0: first seat wins >= 0.85, second >= 0.6, and the two seats' mean loss <= 0.2."""
    algo, _ = trained_self_play(TICTACTOE, 20_000, seed=0)
    first, second = exact_vs_random(algo, TICTACTOE).values()
    assert first["win"] >= 0.85 and second["win"] >= 0.6, (first, second)
    assert (first["loss"] + second["loss"]) / 2 <= 0.2, (first, second)


# ---------------------------------------------------------------------------------------------------
# Smoke: connect four, rps_v2 and a continuous game train and report
