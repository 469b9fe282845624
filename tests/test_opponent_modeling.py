"""opponent_modeling against fixed biased opponents: the model predicts them, the learner exploits them.

Measured (seeds 0-9 for rps, 0-4 for tic-tac-toe; greedy evaluation over 64 games; win = the learner's
return above the opponent's):
- rps_v2 against `rps_rock60`, 1,200 steps: opponent-model accuracy 0.59-0.66 (chance 1/3, the best
  possible 0.60); win rate 0.91-0.98. A uniformly random learner wins 44% (2,000 matches).
- tictactoe_v3 first seat against `first_legal`, 4,000 steps: accuracy 0.70-0.82 (6,000 steps: 0.88-0.93;
  guessing among the legal squares: 0.22); win rate 0.95-1.00. A uniformly random first seat wins 54%.
- against a uniformly random opponent the accuracy stays at chance (0.18-0.24 in tic-tac-toe, 5,000 steps).
At these budgets single_agent (no model) exploits these two opponents about as well (rps: identical greedy
play; tic-tac-toe 4,000 steps: 0.94-0.98), so the asserted baseline is the uniformly random learner.

Against single_agent at equal budgets (benchmarks/opponent_modeling.py, seeds 0-4, greedy evaluation) no
setting tried shows opponent modelling winning more, so no gain over that baseline is asserted:
- matrix:rps, 10 rounds, observe_last_action, against `rps_cycle80` (its next move beats its own previous
  one 80% of the time: a function of what the learner observes). Accuracy 0.78-0.83 at 1,600 steps (chance
  1/3, ceiling 0.87); greedy win rate 0.99-1.00 for BOTH learners at 800 and 1,600 steps. Mean return at
  800 steps: 6.73 with the model, 6.23 without (the best reply is worth 7.2): not a clear gap (2 and 1 of 5
  seeds miss one observation each); at 1,600 steps 7.17 vs 7.19.
- the same game against `rps_beat_last70` (conditioned on the learner's own, unobserved, last move),
  8,000 steps: accuracy 0.31-0.35 (chance); win rate 0.14 with the model, 0.23 without.
- tictactoe_v3 against `first_legal`, 1,500 steps: win rate 0.58 with the model, 0.60 without.
The test below asserts what held: the model is well above chance there and the learner is no worse.
"""
import numpy as np
import pytest
import torch

from advisor.errors import AdvisorError
from algorithms import make
from algorithms.core.vec_env import make_vec_env
from algorithms.mappo import MAPPO
from benchmarks.opponent_modeling import RPS10, evaluate, train
from tests.test_single_agent import trained, win_rate

RPS, TTT = "pettingzoo.classic:rps_v2", "pettingzoo.classic:tictactoe_v3"
SCRIPTED = "algorithms.envs.scripted"


@pytest.mark.parametrize("seed", [0, 1])
def test_predicts_and_exploits_a_rock_biased_rps_player(seed):
    learner, rows = trained("opponent_modeling", RPS, 1200, seed, opponents=f"{SCRIPTED}:rps_rock60")
    assert 0.5 <= rows[-1]["opponent_model/accuracy"] <= 0.72  # chance 1/3, ceiling 0.6 (+ sampling noise)
    assert rows[-1]["opponent_model/loss"] < 1.05  # entropy of (0.6, 0.2, 0.2) is 0.95 nats; uniform 1.10
    assert win_rate(learner, RPS) >= 0.44 + 0.35  # uniformly random learner: 0.44


def test_predicts_and_exploits_a_board_dependent_tictactoe_player():
    learner, rows = trained("opponent_modeling", TTT, 4000, 0, opponents=f"{SCRIPTED}:first_legal")
    assert rows[-1]["opponent_model/accuracy"] >= 0.6  # chance among legal squares: 0.22
    assert win_rate(learner, TTT) >= 0.54 + 0.3  # uniformly random first seat: 0.54


@pytest.mark.parametrize("seed", [0, 1])
def test_predicts_an_observation_dependent_rps_player_and_matches_plain_ppo(seed):
    env, kwargs = RPS10
    cycle = "benchmarks.opponent_modeling:rps_cycle80"
    learner, last = train("opponent_modeling", env, kwargs, cycle, 1600, seed)
    baseline, _ = train("single_agent", env, kwargs, cycle, 1600, seed)
    assert last["opponent_model/accuracy"] >= 0.7  # chance 1/3, ceiling 0.87; seeds 0-4 measured 0.78-0.83
    win, ret = evaluate(learner, env, kwargs, 256)
    assert win >= 0.95 and ret >= 6.5  # best reply: +7.2 a match; measured 0.99-1.00, 7.06-7.36
    assert win >= evaluate(baseline, env, kwargs, 256)[0] - 0.02  # no worse than PPO without the model


def test_accuracy_stays_at_chance_against_a_random_player():
    _, rows = trained("opponent_modeling", RPS, 800, 0, opponents="random")
    assert np.mean([r["opponent_model/accuracy"] for r in rows]) < 0.42  # chance 1/3


def _small(env=TTT, **overrides):
    torch.manual_seed(0)
    envs = make_vec_env(env, {}, num_envs=2)
    algo = make("opponent_modeling", envs, rollout_steps=10, epochs=1, model_epochs=1, **overrides)
    algo.begin(envs.reset(seed=0))
    return algo


def test_the_model_trains_only_on_the_opponents_turns_and_only_by_cross_entropy():
    algo = _small(opponents=f"{SCRIPTED}:first_legal")
    ppo = algo.ppo
    batch, _ = ppo.collect()
    acted = np.stack([m for _, m in ppo.envs.trace])[:, :, 0]  # [T, K]: the opponent moved
    assert np.array_equal(acted, ~batch["active"][:, :, 0].numpy())  # turn-based: exactly the other turns
    before = [p.clone() for p in ppo.model.parameters()]
    MAPPO.update(ppo, batch)  # the PPO update alone: the prediction is detached from the policy loss
    assert all(torch.equal(a, b) for a, b in zip(before, ppo.model.parameters()))
    stats = ppo.update(batch)
    assert not all(torch.equal(a, b) for a, b in zip(before, ppo.model.parameters()))
    assert 0.0 <= stats["opponent_model/accuracy"] <= 1.0 and np.isfinite(stats["opponent_model/loss"])


def test_the_policy_reads_the_prediction():
    ppo = _small().ppo
    obs = torch.as_tensor(make_vec_env(TTT, {}, num_envs=1).reset(seed=0).obs)  # [1, 2, obs_dim]
    mine = obs[:, :1]
    mask = torch.ones(1, 1, 9, dtype=torch.bool)
    before = ppo.policy(mine, mask)[0].dist.logits
    with torch.no_grad():
        ppo.model.net[-1].bias.add_(torch.randn_like(ppo.model.net[-1].bias) * 5)  # another prediction
    after = ppo.policy(mine, mask)[0].dist.logits
    assert not torch.allclose(before, after)
    assert ppo.actor.torso.mlp.net[1].weight.shape[0] == 18 + 9  # observation + 9 predicted probabilities


def test_continuous_actions_are_refused_with_a_hint():
    envs = make_vec_env("mpe2:simple_adversary_v3", {"continuous_actions": True}, num_envs=1)
    with pytest.raises(AdvisorError) as err:
        make("opponent_modeling", envs)
    assert err.value.code == "unsupported-action-space" and "single_agent" in err.value.hint
