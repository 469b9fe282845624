"""Self-play with an opponent pool: seats and masks, exploitability on matrix games, tic-tac-toe against
random play, the CLI (train, eval, resume) and clear errors."""
import json

import numpy as np
import pytest
import torch
from gymnasium import spaces
from pettingzoo.utils.env import ParallelEnv
from typer.testing import CliRunner

from advisor.cli import app
from advisor.errors import AdvisorError
from algorithms import make, make_config
from algorithms.core.competitive_eval import competitive_report, exact_vs_random, play, random_opponent
from algorithms.core.seeding import seed_everything
from algorithms.core.vec_env import make_vec_env
from algorithms.envs.matrix_games import BIASED_RPS
from algorithms.selfplay import meta_nash
from benchmarks.selfplay import against_random

runner = CliRunner()
TICTACTOE = "pettingzoo.classic:tictactoe_v3"


def _trained(env: str, steps: int, seed: int = 0, num_envs: int = 8, **overrides):
    seed_everything(seed)
    envs = make_vec_env(env, {}, num_envs)
    algo = make("self_play", envs, **overrides)
    algo.begin(envs.reset(seed=seed))
    history: list[dict] = []
    algo.learn(steps, lambda a, m: history.append(m))
    return algo, history


# ---------------------------------------------------------------------------------------------------
# Mechanics


def test_opponent_seat_is_masked_and_seats_alternate():
    algo, _ = _trained(TICTACTOE, 0, num_envs=4)
    seats = algo.seats
    step = algo.learner.last
    rows = np.arange(4)
    assert seats.seat.tolist() == [0, 1, 0, 1]  # the learner moves first in half the copies
    assert not step.active[rows, 1 - seats.seat].any() and not step.alive[rows, 1 - seats.seat].any()
    before = seats.seat.copy()
    while not algo.learner.last.episode_end.any():
        actions, _ = algo.act(algo.learner.last, None, deterministic=False)
        algo.learner.last = seats.step(actions)
    ended = algo.learner.last.episode_end
    assert (seats.seat[ended] == 1 - before[ended]).all() and (seats.seat[~ended] == before[~ended]).all()
    assert len(seats.results) == ended.sum()


def test_opponent_actions_replace_the_learners_at_its_seat():
    """The learner asks for action 4 in every seat; only its own seat keeps it."""
    algo, _ = _trained("matrix:rps", 0, num_envs=4)
    algo.members[0].actor.head.bias.data[:] = torch.tensor([30.0, -30.0, -30.0])  # the pool plays rock
    algo.seats.opponent[:] = 0
    sent = []
    inner_step = algo.seats.envs.step
    algo.seats.envs.step = lambda actions: (sent.append(actions.copy()), inner_step(actions))[1]
    algo.seats.step(np.full((4, 2), 2))
    rows = np.arange(4)
    learner_seat = np.array([0, 1, 0, 1])
    assert (sent[0][rows, learner_seat] == 2).all() and (sent[0][rows, 1 - learner_seat] == 0).all()


def test_pool_snapshots_evict_the_oldest_and_metrics_are_logged():
    algo, history = _trained("matrix:rps", 16 * 8 * 12, num_envs=16, rollout_steps=8, pool_size=3,
                             snapshot_every=2, opponent_sampling="prioritised")
    assert algo.pool == [4, 5, 6] and history[-1]["selfplay/pool_size"] == 3
    ratings = [m.rating for m in algo.members.values()]
    assert algo.rating != 1000.0 and all(np.isfinite(ratings))
    assert {"selfplay/win_rate", "selfplay/draw_rate", "selfplay/loss_rate", "selfplay/rating",
            "selfplay/exploitability", "selfplay/exploitability_latest", "charts/return/agent_0"} <= set(history[-1])
    rates = [history[-1][f"selfplay/{k}_rate"] for k in ("win", "draw", "loss")]
    assert sum(rates) == pytest.approx(1.0)


@pytest.mark.parametrize("overrides, needle", [({"opponent_sampling": "best"}, "opponent_sampling"),
                                               ({"recurrent": "true"}, "recurrent"),
                                               ({"latest_prob": "2"}, "latest_prob"),
                                               ({"random_prob": "-0.1"}, "random_prob"),
                                               ({"pool_size": "0"}, "pool_size")])
def test_bad_config_values_are_refused(overrides, needle):
    with pytest.raises(AdvisorError, match=needle):
        make_config("self_play", overrides)


@pytest.mark.parametrize("env, code", [("mpe2:simple_spread_v3", "not-two-player"),
                                       ("matrix:prisoners_dilemma", "not-zero-sum")])
def test_a_game_self_play_cannot_train_gets_one_clear_error(tmp_path, env, code):
    result = runner.invoke(app, ["train", "self_play", "--env", env, "--steps", "100", "--out", str(tmp_path / "run")])
    assert result.exit_code == 2 and "Traceback" not in result.output, result.output
    assert code in result.output and not (tmp_path / "run").exists()


# ---------------------------------------------------------------------------------------------------
# Learning: exploitability of the pool average on matrix games (numbers measured in the docstring)

MATRIX = {"rollout_steps": 8, "pool_size": 100, "snapshot_every": 2, "lr": 1e-4, "entropy_coef": 0.01}  # 128 games an iteration


def test_pool_average_on_biased_rps_is_far_less_exploitable_than_naive_self_play():
    """Biased RPS (equilibrium (1/16, 10/16, 5/16); uniform play is exploitable for 8.33, pure paper for 5,
    rock 25, scissors 50). 16k games (16 copies), the pool keeps every snapshot (fictitious play's average).
    Measured exploitability (NashConv / 2, payoff units), seeds 0 / 1:
      pool average, uniform sampling:                      1.97 / 1.81   (seed 2: 1.91, naive last 40.3)
      naive self-play (latest), last iterate at the end:   30.2 / 23.2
      naive self-play, last iterate, mean over last half:  35.4 / 17.1   (it cycles between pure strategies)
    Asserted: pool average < 3 (under half of uniform play's 8.33), and 3x below the naive mean."""
    for seed in (0, 1):
        pooled = _trained("matrix:biased_rps", 16_000, seed, num_envs=16, **MATRIX)[1]
        naive = _trained("matrix:biased_rps", 16_000, seed, num_envs=16, **MATRIX, opponent_sampling="latest")[1]
        naive_last = np.mean([m["selfplay/exploitability_latest"] for m in naive[len(naive) // 2:]])
        assert pooled[-1]["selfplay/exploitability"] < 3.0
        assert pooled[-1]["selfplay/exploitability"] < naive_last / 3


def test_pool_average_on_rps_is_nearly_unexploitable():
    """Plain RPS (win 1 / lose 1). 8k games; measured pool-average exploitability 0.010 / 0.011 / 0.026 (seeds
    0 / 1 / 2); asserted for seed 0: < 0.05. Uniform play passes this by accident, hence the biased-RPS test above."""
    pooled = _trained("matrix:rps", 8_000, 0, num_envs=16, **MATRIX)[1]
    assert pooled[-1]["selfplay/exploitability"] < 0.05


def test_meta_nash_weights_pure_members_into_the_exact_equilibrium():
    """Pure rock, paper and scissors members of biased RPS: the meta-Nash weights are the game's equilibrium
    (1/16, 10/16, 5/16); a duplicate member splits its weight, an unused one gets none."""
    payoff = np.asarray(BIASED_RPS, float)
    pure = np.eye(3)[[0, 1, 2]]
    probs = np.stack([pure, pure], axis=1)  # [3, 2, 3]: each member plays the same pure action in both seats
    np.testing.assert_allclose(meta_nash(payoff, probs), [1 / 16, 10 / 16, 5 / 16], atol=1e-9)
    only_rock_paper = np.stack([np.eye(3)[[0, 1]]] * 2, axis=1)
    np.testing.assert_allclose(meta_nash(payoff, only_rock_paper), [0.0, 1.0], atol=1e-9)  # paper beats rock


PSRO = {**MATRIX, "lr": 1e-3, "entropy_coef": 0.05, "opponent_sampling": "nash"}


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
        history = _trained("matrix:biased_rps", 16_000, seed, num_envs=16, **PSRO)[1]
        naive = _trained("matrix:biased_rps", 16_000, seed, num_envs=16, **{**PSRO, "opponent_sampling": "latest"})[1]
        naive_last = np.mean([m["selfplay/exploitability_latest"] for m in naive[len(naive) // 2:]])
        assert history[-1]["selfplay/exploitability"] < 0.1 < naive_last / 10, (history[-1], naive_last)


def test_random_anchor_plays_random_legal_moves_and_leaves_ratings_alone():
    algo, history = _trained(TICTACTOE, 512, num_envs=4, rollout_steps=32, snapshot_every=2, random_prob=1.0)
    assert (algo.seats.opponent == -2).all() and algo.rating == 1000.0  # every game against random play
    assert all(m["selfplay/games_vs_pool"] == 0 for m in history)
    step = algo.seats.last
    actions = algo.opponent_actions(step, algo.seats.opponent)
    rows = np.arange(len(actions))
    mover = step.active.argmax(1)  # the seat to move: its action must be legal
    assert step.action_mask[rows, mover, actions[rows, mover]].all()


def test_nash_sampling_needs_a_matrix_game():
    envs = make_vec_env(TICTACTOE, {}, 2)
    with pytest.raises(AdvisorError, match="opponent_sampling=nash"):
        make("self_play", envs, opponent_sampling="nash")


# ---------------------------------------------------------------------------------------------------
# Tic-tac-toe against random play, from both seats


class LowestLegal:
    """A deterministic scripted player: the lowest-numbered legal move."""

    info = None

    def initial_memory(self, k):
        return None

    def act(self, step, memory, deterministic):
        return step.action_mask.argmax(-1), memory

    def reset_memory(self, memory, ends):
        return memory


def test_exact_evaluation_walks_the_whole_tree():
    """exact_vs_random gives a scripted player's exact rates in each seat (checked against the benchmark's
    expectimax over board strings, which never touches the env), and refuses games it cannot walk."""
    report = exact_vs_random(LowestLegal(), TICTACTOE)
    for agent, me in (("player_1", "X"), ("player_2", "O")):
        expected = against_random(me, lambda outcomes: outcomes[0])  # LowestLegal: the first free cell
        got = report[agent]
        assert (got["win"], got["draw"], got["loss"]) == pytest.approx(expected, abs=1e-12), (agent, got, expected)
    assert report["player_1"]["win"] > 0.5 > report["player_2"]["win"]
    with pytest.raises(AdvisorError, match="turn-based"):
        exact_vs_random(LowestLegal(), "matrix:rps")
    with pytest.raises(AdvisorError, match="too many"):
        exact_vs_random(LowestLegal(), "pettingzoo.classic:connect_four_v3", max_positions=1000)


def test_sampled_games_agree_with_the_exact_rates_and_count_as_asked():
    """play() with 2,002 games (not a multiple of its 8 copies): exactly that many, seats balanced to within
    two games, and each seat's sampled win rate within 4 standard errors (~0.06) of exact_vs_random's."""
    exact = exact_vs_random(LowestLegal(), TICTACTOE)
    info = make_vec_env(TICTACTOE, {}, 1).info
    sampled = play(LowestLegal(), TICTACTOE, {}, random_opponent(info, 3), 2002, deterministic=True, seed=3)
    assert sampled["episodes"] == 2002
    seats = sampled["by_seat"]
    assert abs(seats["player_1"]["episodes"] - seats["player_2"]["episodes"]) <= 2, seats
    for agent, rates in seats.items():
        assert abs(rates["win"] - exact[agent]["win"]) < 0.06, (agent, rates, exact[agent])
        assert abs(rates["loss"] - exact[agent]["loss"]) < 0.06, (agent, rates, exact[agent])


def test_tictactoe_agent_beats_random_play_from_both_seats():
    """20k env steps (defaults, 8 copies), then the greedy policy's exact rates against uniformly random legal
    moves in each seat (exact_vs_random: the whole tree, no sampling error). Random against random wins 58%
    first / 29% second. Measured win / loss, seed 0 (seed 1 in brackets): first 0.927 / 0.042 (0.854 /
    0.096), second 0.703 / 0.263 (0.613 / 0.330). The issue's bar (>= 90% wins, <= 2% losses in both seats)
    needs far longer training and, as second player, near-perfect play against random (the exact best wins
    93.2% with 0.7% losses): `python benchmarks/selfplay.py --only tictactoe --seeds 0,1,2,3,4` measures it
    with the README's recipe (random-play anchor, 256-step rollouts): every seed holds the bar from 600k-1M
    steps to 1.2M (seed 0 at 1.2M: first 0.984 / 0.000, second 0.915 / 0.005; about 7 minutes a seed).
    Asserted for seed 0: first seat wins >= 0.85, second >= 0.6, and the two seats' mean loss <= 0.2."""
    algo, _ = _trained(TICTACTOE, 20_000, seed=0)
    first, second = exact_vs_random(algo, TICTACTOE).values()
    assert first["win"] >= 0.85 and second["win"] >= 0.6, (first, second)
    assert (first["loss"] + second["loss"]) / 2 <= 0.2, (first, second)


# ---------------------------------------------------------------------------------------------------
# Smoke: connect four, rps_v2 and a continuous game train and report


def continuous_duel(render_mode=None):
    """A one-shot zero-sum game with Box actions: agent_0 wins a_0 * a_1 (matching signs), agent_1 loses it."""
    return _ContinuousDuel()


class _ContinuousDuel(ParallelEnv):
    metadata = {"name": "continuous_duel_v0"}
    possible_agents = ["agent_0", "agent_1"]

    def observation_space(self, agent):
        return spaces.Box(0.0, 1.0, (1,), np.float32)

    def action_space(self, agent):
        return spaces.Box(-1.0, 1.0, (1,), np.float32)

    def reset(self, seed=None, options=None):
        self.agents = list(self.possible_agents)
        return {a: np.ones(1, np.float32) for a in self.agents}, {a: {} for a in self.agents}

    def step(self, actions):
        r = float(actions["agent_0"][0] * actions["agent_1"][0])
        self.agents = []
        obs = {a: np.ones(1, np.float32) for a in self.possible_agents}
        flags = {a: True for a in self.possible_agents}
        return obs, {"agent_0": r, "agent_1": -r}, flags, {a: False for a in flags}, {a: {} for a in flags}


@pytest.mark.parametrize("env", ["pettingzoo.classic:connect_four_v3", "pettingzoo.classic:rps_v2",
                                 "tests.test_selfplay:continuous_duel"])
def test_other_games_train_and_report(env):
    algo, history = _trained(env, 512, num_envs=2, rollout_steps=32, snapshot_every=2)
    assert history[-1]["env_steps"] == 512 and len(algo.pool) > 1
    report = competitive_report(algo, env, {}, 4, deterministic=False, seed=0)
    assert report["vs_random"]["episodes"] == 4 and set(report["vs_pool"]) == {str(m) for m in algo.pool}
    assert sum(report["vs_random"][k] for k in ("win", "draw", "loss")) == pytest.approx(1.0)


# ---------------------------------------------------------------------------------------------------
# CLI: train, eval, resume


SMALL = ["--num-envs", "2", "--eval-episodes", "2", "--set", "rollout_steps=32", "--set", "snapshot_every=2"]


def test_cli_trains_evaluates_and_resumes_exactly(tmp_path):
    args = ["train", "self_play", "--env", TICTACTOE, *SMALL, "--seed", "4", "--checkpoint-every", "128"]
    straight_run = runner.invoke(app, [*args, "--steps", "512", "--out", str(tmp_path / "straight")])
    assert straight_run.exit_code == 0 and "against random play" in straight_run.output, straight_run.output
    final = json.loads((tmp_path / "straight" / "eval.json").read_text())["vs_random"]  # not 0 against itself
    assert final["episodes"] == 2 and final["win"] + final["draw"] + final["loss"] == pytest.approx(1.0)
    assert runner.invoke(app, [*args, "--steps", "256", "--out", str(tmp_path / "split")]).exit_code == 0
    resumed = runner.invoke(app, ["train", "--resume", str(tmp_path / "split"), "--steps", "512"])
    assert resumed.exit_code == 0 and "env state restored" in " ".join(resumed.output.split()), resumed.output
    straight, split = ((tmp_path / n / "metrics.csv").read_text() for n in ("straight", "split"))
    assert straight == split and "selfplay/rating" in straight.splitlines()[0]
    out = runner.invoke(app, ["eval", str(tmp_path / "split"), "--episodes", "4", "--json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)["competitive"]
    assert data["vs_random"]["episodes"] == 4 and set(data["vs_random"]["by_seat"]) == {"player_1", "player_2"}
    assert data["vs_pool"] and all({"win", "draw", "loss", "rating"} <= set(r) for r in data["vs_pool"].values())
    recent = runner.invoke(app, ["eval", str(tmp_path / "split"), "--episodes", "2", "--pool-members", "1", "--json"])
    latest = max(int(mid) for mid in data["vs_pool"])
    assert list(json.loads(recent.output)["competitive"]["vs_pool"]) == [str(latest)], recent.output
    more = runner.invoke(app, ["eval", str(tmp_path / "split"), "--episodes", "2", "--pool-members", "1000", "--json"])
    assert json.loads(more.output)["competitive"]["vs_pool"].keys() == data["vs_pool"].keys()
    table = runner.invoke(app, ["eval", str(tmp_path / "split"), "--episodes", "2"])
    assert table.exit_code == 0 and "random" in table.output and "pool #0" in table.output, table.output
    exact = runner.invoke(app, ["eval", str(tmp_path / "split"), "--episodes", "2", "--exact", "--json"])
    assert exact.exit_code == 0, exact.output
    rates = json.loads(exact.output)["exact_vs_random"]
    assert set(rates) == {"player_1", "player_2"}
    assert all(sum(r.values()) == pytest.approx(1.0) for r in rates.values()), rates
    shown = runner.invoke(app, ["eval", str(tmp_path / "split"), "--episodes", "2", "--exact"])
    assert shown.exit_code == 0 and "exact against random play" in shown.output, shown.output
    stochastic = runner.invoke(app, ["eval", str(tmp_path / "split"), "--exact", "--stochastic"])
    assert stochastic.exit_code != 0 and "greedy" in stochastic.output and "Traceback" not in stochastic.output


def test_eval_reports_exploitability_of_matrix_games(tmp_path):
    run = tmp_path / "run"
    args = ["train", "self_play", "--env", "matrix:biased_rps", "--steps", "256", "--out", str(run), *SMALL]
    assert runner.invoke(app, args).exit_code == 0
    data = json.loads(runner.invoke(app, ["eval", str(run), "--episodes", "4", "--json"]).output)["competitive"]
    assert set(data["exploitability"]) == {"policy", "pool_average"}
    assert 0.0 <= data["exploitability"]["pool_average"] <= 50.0
    refused = runner.invoke(app, ["eval", str(run), "--exact"])  # a simultaneous game: no tree to walk
    assert refused.exit_code != 0 and "turn-based" in refused.output and "Traceback" not in refused.output


def test_progress_line_shows_the_learners_rating(tmp_path):
    """The mean return over both seats of a zero-sum game is always 0: the progress line shows the Elo."""
    out = runner.invoke(app, ["train", "self_play", "--env", "matrix:rps", "--steps", "256", *SMALL,
                              "--out", str(tmp_path / "run")])
    assert out.exit_code == 0 and "Elo" in out.output and "return   " not in out.output, out.output
