"""opponent_modeling against fixed biased opponents: the model predicts them, the learner exploits them.

Measured (seeds 0-9 for rps, 0-4 for tic-tac-toe; greedy evaluation over 64 games; win = the learner's
return above the opponent's):
- rps_v2 against `rps_rock60`, 1,200 steps: opponent-model accuracy 0.59-0.66 (chance 1/3, the best
  possible 0.60); win rate 0.91-0.98. A uniformly random learner wins 44% (2,000 matches).
- tictactoe_v3 first seat against `first_legal`, 4,000 steps: accuracy 0.70-0.82 (6,000 steps: 0.88-0.93;
  guessing among the legal squares: 0.22); win rate 0.95-1.00. A uniformly random first seat wins 54%.
- against a uniformly random opponent the accuracy stays at chance (0.18-0.24 in tic-tac-toe, 5,000 steps).
At these budgets single_agent (no model) exploits these two opponents about as well (rps: identical greedy
play; tic-tac-toe 4,000 steps: 0.94-0.98), so for them the asserted baseline is the uniformly random
learner; the context game below is where the model pays, and there the baseline is single_agent.

Against single_agent (the same PPO without the model) at equal budgets, both with rollout_steps=10
(benchmarks/opponent_modeling.py, greedy evaluation over 256 matches): matrix:context_rps (32 public
contexts, 10 rounds) against `context_favourite` (a fixed favourite move per context, 80% of the time;
best reply +8.0 a match). Mean return over seeds 0-9: 1,000 steps 6.56 with the model vs 5.45 without;
2,000 steps 7.77 vs 6.46, the model ahead on 9 of 10 seeds (seed 2: 7.52 vs 7.57); model accuracy
0.80-0.90 (ceiling 0.87 plus sampling noise, chance 1/3). The model learns every context from every opponent
move; the policy without it only from its own rewards, context by context. Seeds 0-4 at 2,000 steps:
7.43 / 7.82 / 7.52 / 7.48 / 8.10 (mean 7.67) vs 6.49 / 6.64 / 7.57 / 6.67 / 5.38 (mean 6.55). In rps_v2 vs
rps_rock60 and tic-tac-toe vs first_legal (no context to tell apart) there is no measurable gain.
"""
import numpy as np
import pytest
import torch

from algorithms.errors import MARLError
from algorithms import make
from algorithms.core.env_registry import make_vec_env
from algorithms.mappo import MAPPO
from tests.helpers import trained, win_rate

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


def test_context_rps_rules_and_the_context_favourite_player():
    from algorithms.core.env_registry import make_env
    from algorithms.envs.scripted import CONTEXT_FAVOURITE, context_favourite
    env = make_env("matrix:context_rps", {"contexts": 6, "rounds": 3})
    obs, _ = env.reset(seed=0)
    assert obs["player_0"].shape == (6,) and obs["player_0"].sum() == 1 and np.array_equal(obs["player_0"], obs["player_1"])
    _, rewards, term, _, _ = env.step({"player_0": 1, "player_1": 0})  # paper beats rock
    assert rewards == {"player_0": 1.0, "player_1": -1.0} and not any(term.values())
    env.step({"player_0": 2, "player_1": 2})
    _, rewards, term, _, _ = env.step({"player_0": 0, "player_1": 1})
    assert rewards["player_0"] == -1.0 and all(term.values()) and env.agents == []
    assert sorted(CONTEXT_FAVOURITE[:30].tolist()) == [0] * 10 + [1] * 10 + [2] * 10  # balanced by blocks of 3
    rng = np.random.default_rng(0)
    moves = [context_favourite(np.eye(6)[4], None, "player_1", rng) for _ in range(2000)]
    assert abs(np.mean(np.array(moves) == CONTEXT_FAVOURITE[4]) - (0.8 + 0.2 / 3)) < 0.03


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
    algo = _small(opponents=f"{SCRIPTED}:first_legal", model_lr=0.05)  # one model step changes its guesses
    ppo = algo.ppo
    batch, _ = ppo.collect()
    acted = np.stack([m for _, m in ppo.envs.trace])[:, :, 0]  # [T, K]: the opponent moved
    assert np.array_equal(acted, ~batch["active"][:, :, 0].numpy())  # turn-based: exactly the other turns
    before = [p.clone() for p in ppo.model.parameters()]
    MAPPO.update(ppo, batch)  # the PPO update alone: the prediction is detached from the policy loss
    assert all(torch.equal(a, b) for a, b in zip(before, ppo.model.parameters()))
    # By hand, with the model that played the rollout: its accuracy and cross-entropy on the opponent's moves only.
    moves = np.stack([a for a, _ in ppo.envs.trace])[:, :, 0]                     # [T, K]
    with torch.no_grad():
        logits = ppo.model(batch["obs"][:, :, 0])[:, :, 0]                         # [T, K, 9]: one opponent
    turns = [(t, k) for t in range(acted.shape[0]) for k in range(acted.shape[1]) if acted[t, k]]
    hits = sum(int(logits[t, k].argmax()) == moves[t, k] for t, k in turns)
    nll = [-float(torch.log_softmax(logits[t, k], -1)[moves[t, k]]) for t, k in turns]
    assert 0 < len(turns) < acted.size and 0 < hits < len(turns)  # a case where the share is not trivial
    stats = ppo.update(batch)
    assert not all(torch.equal(a, b) for a, b in zip(before, ppo.model.parameters()))
    assert stats["opponent_model/accuracy"] == pytest.approx(hits / len(turns))
    assert stats["opponent_model/loss"] == pytest.approx(np.mean(nll), rel=1e-5)  # model_epochs=1: before its step
    # A model that always guesses cell 0 scores the share of the opponent's moves into cell 0, whatever it
    # predicts on the learner's turns (whose recorded opponent action is 0 too).
    with torch.no_grad():
        ppo.model.net[-1].bias[0] += 1e3
    ppo.envs.trace.clear()
    batch, _ = ppo.collect()
    moves = np.stack([a for a, _ in ppo.envs.trace])[:, :, 0]
    acted = np.stack([m for _, m in ppo.envs.trace])[:, :, 0]
    assert 0 < np.mean(moves[acted] == 0) < 1 and (~acted).any()
    assert ppo.update(batch)["opponent_model/accuracy"] == pytest.approx(np.mean(moves[acted] == 0))


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
    with pytest.raises(MARLError) as err:
        make("opponent_modeling", envs)
    assert err.value.code == "unsupported-action-space" and "single_agent" in err.value.hint
