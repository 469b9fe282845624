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
from algorithms.errors import MARLError
from algorithms import make, make_config
from algorithms.training.competitive_eval import competitive_report, exact_vs_random, play, random_opponent
from algorithms.core.env_registry import make_vec_env
from algorithms.envs.matrix_games import BIASED_RPS
from algorithms.selfplay import meta_nash
from algorithms.envs.tictactoe_oracle import against_random
from tests.helpers import trained_self_play

runner = CliRunner()
TICTACTOE = "pettingzoo.classic:tictactoe_v3"


# ---------------------------------------------------------------------------------------------------
# Mechanics


def test_opponent_seat_is_masked_and_seats_alternate():
    algo, _ = trained_self_play(TICTACTOE, 0, num_envs=4)
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
    algo, _ = trained_self_play("matrix:rps", 0, num_envs=4)
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
    algo, history = trained_self_play("matrix:rps", 16 * 8 * 12, num_envs=16, rollout_steps=8, pool_size=3,
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
    with pytest.raises(MARLError, match=needle):
        make_config("self_play", overrides)


@pytest.mark.parametrize("env, code", [("mpe2:simple_spread_v3", "not-two-player"),
                                       ("matrix:prisoners_dilemma", "not-zero-sum")])
def test_a_game_self_play_cannot_train_gets_one_clear_error(tmp_path, env, code):
    result = runner.invoke(app, ["train", "self_play", "--env", env, "--steps", "100", "--out", str(tmp_path / "run"),
                                  "--force"])  # past the guard (tests/test_guard.py): the algorithm refuses too
    assert result.exit_code == 2 and "Traceback" not in result.output, result.output
    assert code in result.output and not (tmp_path / "run").exists()


# ---------------------------------------------------------------------------------------------------
# Learning: exploitability of the pool average on matrix games (numbers measured in the docstring)

def test_meta_nash_weights_pure_members_into_the_exact_equilibrium():
    """Pure rock, paper and scissors members of biased RPS: the meta-Nash weights are the game's equilibrium
    (1/16, 10/16, 5/16); a duplicate member splits its weight, an unused one gets none."""
    payoff = np.asarray(BIASED_RPS, float)
    pure = np.eye(3)[[0, 1, 2]]
    probs = np.stack([pure, pure], axis=1)  # [3, 2, 3]: each member plays the same pure action in both seats
    np.testing.assert_allclose(meta_nash(payoff, probs), [1 / 16, 10 / 16, 5 / 16], atol=1e-9)
    only_rock_paper = np.stack([np.eye(3)[[0, 1]]] * 2, axis=1)
    np.testing.assert_allclose(meta_nash(payoff, only_rock_paper), [0.0, 1.0], atol=1e-9)  # paper beats rock


def test_random_anchor_plays_random_legal_moves_and_leaves_ratings_alone():
    algo, history = trained_self_play(TICTACTOE, 512, num_envs=4, rollout_steps=32, snapshot_every=2, random_prob=1.0)
    assert (algo.seats.opponent == -2).all() and algo.rating == 1000.0  # every game against random play
    assert all(m["selfplay/games_vs_pool"] == 0 for m in history)
    step = algo.seats.last
    actions = algo.opponent_actions(step, algo.seats.opponent)
    rows = np.arange(len(actions))
    mover = step.active.argmax(1)  # the seat to move: its action must be legal
    assert step.action_mask[rows, mover, actions[rows, mover]].all()


def test_nash_sampling_needs_a_matrix_game():
    envs = make_vec_env(TICTACTOE, {}, 2)
    with pytest.raises(MARLError, match="opponent_sampling=nash"):
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
    with pytest.raises(MARLError, match="turn-based"):
        exact_vs_random(LowestLegal(), "matrix:rps")
    with pytest.raises(MARLError, match="too many"):
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
    algo, history = trained_self_play(env, 512, num_envs=2, rollout_steps=32, snapshot_every=2)
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
