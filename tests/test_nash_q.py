"""Nash-Q (Hu & Wellman 2003) on matrix games and Grid Game 2, through the Algorithm API and the CLI."""
import json

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from advisor.cli import app
from algorithms.errors import MARLError
from algorithms import make
from algorithms.core.game_theory import exploitability
from algorithms.core.env_registry import make_vec_env
from algorithms.envs.matrix_games import BIASED_RPS, PRISONERS_DILEMMA
from tests.helpers import trained_nash_q

UP, DOWN, LEFT, RIGHT = range(4)
runner = CliRunner()


def test_finds_the_unique_pure_equilibrium_of_the_prisoners_dilemma():
    """One state, one-step episodes: with alpha = 1/n the tables are the payoffs once every joint action is
    seen (deterministic rewards), and the stage game's only equilibrium is (defect, defect)."""
    algo, envs = trained_nash_q("matrix:prisoners_dilemma", 400)
    a = np.asarray(PRISONERS_DILEMMA, float)
    np.testing.assert_allclose(algo.q[0, 0], a)
    np.testing.assert_allclose(algo.q[0, 1], a.T)
    actions, _ = algo.act(envs.reset(seed=1), None, deterministic=True)
    assert (actions == 1).all()


def test_zero_sum_stage_games_are_solved_by_lp_and_are_unexploitable():
    """Biased RPS: Nash-Q's learned policy is the minimax one (1/16, 10/16, 5/16), exploitability ~0 (payoff
    units); matching pennies: (0.5, 0.5)."""
    algo, envs = trained_nash_q("matrix:biased_rps", 400)
    first = envs.reset(seed=1)
    probs = algo.action_probs(first)[0]  # [2, A]
    np.testing.assert_array_equal(algo.action_probs(first.obs, first.action_mask)[0], probs)  # one-state table
    np.testing.assert_allclose(probs, np.tile(np.array([1, 10, 5]) / 16, (2, 1)), atol=1e-7)
    assert exploitability(BIASED_RPS, probs[0]) < 1e-6
    algo, envs = trained_nash_q("matrix:matching_pennies", 200)
    np.testing.assert_allclose(algo.action_probs(envs.reset(seed=1))[0], 0.5, atol=1e-7)
    sampled, _ = algo.act(envs.reset(seed=1), None, deterministic=False)
    assert sampled.shape == (8, 2) and set(np.unique(sampled)) <= {0, 1}


def test_same_seed_same_tables_and_resume_continues_exactly():
    a, _ = trained_nash_q("grid:game2", 2000, seed=3)
    b, _ = trained_nash_q("grid:game2", 2000, seed=3)
    np.testing.assert_array_equal(a.q, b.q)
    state = a.state_dict()
    a.learn(4000)
    torch.manual_seed(99)  # the resumed learner must not depend on the global RNG
    c = make("nash_q", make_vec_env("grid:game2", {}, num_envs=8))
    c.load_state_dict(state)
    assert c.has_env_position() and c.env_steps == 2000
    c.learn(4000)
    np.testing.assert_array_equal(a.q[: len(a.index)], c.q[: len(c.index)])
    assert a.index == c.index and a.episodes == c.episodes


def test_cli_train_eval_and_resume_on_grid_game_2(tmp_path):
    common = ["--env", "grid:game2", "--num-envs", "4", "--eval-episodes", "4", "--checkpoint-every", "1000"]
    full = runner.invoke(app, ["train", "nash_q", *common, "--steps", "2000", "--out", str(tmp_path / "full")])
    assert full.exit_code == 0, full.output
    part = runner.invoke(app, ["train", "nash_q", *common, "--steps", "1000", "--out", str(tmp_path / "part")])
    assert part.exit_code == 0, part.output
    resumed = runner.invoke(app, ["train", "--resume", str(tmp_path / "part"), "--steps", "2000"])
    assert resumed.exit_code == 0, resumed.output
    assert (tmp_path / "full" / "metrics.csv").read_text() == (tmp_path / "part" / "metrics.csv").read_text()
    header = (tmp_path / "full" / "metrics.csv").read_text().splitlines()[0]
    assert "charts/return/agent_0" in header and "charts/start_value/agent_1" in header
    out = runner.invoke(app, ["eval", str(tmp_path / "full"), "--episodes", "4", "--json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    assert data["episodes"] == 4 and set(data["per_agent"]) == {"agent_0", "agent_1"} and data["env_steps"] == 2000


def test_refuses_environments_it_cannot_handle():
    with pytest.raises(MARLError, match="exactly two"):
        make("nash_q", make_vec_env("mpe2:simple_spread_v3", {"N": 3}, num_envs=1))
    with pytest.raises(MARLError, match="continuous actions"):
        make("nash_q", make_vec_env("mpe2:simple_push_v3", {"continuous_actions": True}, num_envs=1))
    envs = make_vec_env("mpe2:simple_push_v3", {}, num_envs=1)  # two agents, discrete actions, real-valued state
    algo = make("nash_q", envs)
    with pytest.raises(MARLError, match="non-integer") as err:
        algo.begin(envs.reset(seed=0))
    assert err.value.code == "unsupported-env" and "iql" in err.value.hint
    with pytest.raises(MARLError, match="selection"):
        make("nash_q", make_vec_env("matrix:rps", {}, num_envs=1), selection="best")
    result = runner.invoke(app, ["train", "nash_q", "--env", "mpe2:simple_spread_v3", "--steps", "10", "--force"])  # past the guard: the algorithm refuses too
    assert result.exit_code != 0 and "Traceback" not in result.output and "exactly two" in result.output
