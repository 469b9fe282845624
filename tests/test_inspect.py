"""Environment inspection: facts detected from PettingZoo envs, the reward-structure statistics, `marl inspect`."""
from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from advisor.cli import app
from algorithms.errors import MARLError
from advisor.inspect import analyze_rewards, inspect_env

runner = CliRunner()


@pytest.fixture(scope="module")
def spread():
    return inspect_env("mpe2:simple_spread_v3")


def test_simple_spread_is_cooperative_discrete_with_state(spread):
    facts = spread.facts
    assert facts["n_agents"] == 3 and facts["action_space"] == "discrete"
    assert facts["reward_structure"] == "cooperative" and facts["interdependent"] is True
    assert facts["global_state"] is True and facts["turn_based"] is False and facts["tabular"] is False
    ev = spread.evidence
    assert ev["state"] == {"available": True, "shape": [54]}
    assert ev["rewards"]["teams"] == [["agent_0", "agent_1", "agent_2"]]
    assert ev["spaces"]["agent_0"]["action"] == "Discrete(5)"
    assert ev["action_masks"]["present"] is False


def test_simple_spread_rewards_differ_per_agent_yet_one_team(spread):
    """The easy version (identical rewards) would fail here: each agent has its own collision term."""
    corr = spread.evidence["rewards"]["correlation"]
    off_diagonal = [corr[a][b] for a in corr for b in corr if a != b]
    assert all(c > 0.7 for c in off_diagonal)
    assert not spread.evidence["rewards"]["zero_sum"]


def test_simple_spread_continuous():
    result = inspect_env("mpe2:simple_spread_v3", {"continuous_actions": True})
    assert result.facts["action_space"] == "continuous"
    assert result.facts["reward_structure"] == "cooperative" and result.facts["n_agents"] == 3
    assert result.evidence["spaces"]["agent_0"]["action_kind"] == "continuous"


def test_simple_tag_is_mixed_with_two_teams():
    result = inspect_env("mpe2:simple_tag_v3")
    assert result.facts["reward_structure"] == "mixed" and result.facts["n_agents"] == 4
    teams = sorted(sorted(team) for team in result.evidence["rewards"]["teams"])
    assert teams == [["adversary_0", "adversary_1", "adversary_2"], ["agent_0"]]


def test_rps_is_competitive_zero_sum_and_simultaneous():
    result = inspect_env("pettingzoo.classic:rps_v2")
    facts = result.facts
    assert facts["reward_structure"] == "competitive" and facts["n_agents"] == 2
    assert result.evidence["rewards"]["zero_sum"] is True
    # PettingZoo gives rps_v2 a parallel_env: both players choose at once.
    assert facts["turn_based"] is False and result.evidence["api"] == "parallel"
    assert facts["global_state"] is False and result.evidence["state"]["error"].startswith("TypeError")
    assert facts["tabular"] is True  # Discrete(4) observations


def test_one_hot_box_observations_count_as_tabular():
    """The grid games observe their 81 joint positions one-hot in a Box: a table in disguise (Nash-Q's
    home), while simple_spread's Box of positions and velocities is not."""
    result = inspect_env("grid:game2")
    assert result.facts["tabular"] is True, result.evidence["tabular"]
    assert "one-hot" in result.evidence["tabular"]["reason"] and "81 states" in result.evidence["tabular"]["reason"]
    assert "one_hot" not in result.evidence["rewards"]
    assert inspect_env("mpe2:simple_spread_v3").facts["tabular"] is False


def test_tictactoe_is_turn_based_with_action_masks():
    result = inspect_env("pettingzoo.classic:tictactoe_v3")
    assert result.facts["turn_based"] is True and result.evidence["api"] == "aec"
    assert result.facts["reward_structure"] == "competitive"
    assert result.evidence["action_masks"] == {"present": True, "where": ["observation['action_mask']"]}
    assert result.evidence["state"]["error"].startswith("NotImplementedError")


def test_unknown_env_is_an_advisor_error():
    with pytest.raises(MARLError) as info:
        inspect_env("mpe2:no_such_env_v0")
    assert info.value.code == "unknown-env"


# --- reward statistics on synthetic data ---------------------------------------------------------

AGENTS3 = ["a", "b", "c"]


def test_shared_reward_with_private_noise_is_cooperative():
    rng = np.random.default_rng(0)
    team = rng.normal(size=(400, 1))
    rewards = team + 0.1 * rng.normal(size=(400, 3))
    out = analyze_rewards(rewards, AGENTS3)
    assert out["structure"] == "cooperative" and out["teams"] == [AGENTS3]


def test_zero_sum_pair_is_competitive():
    rng = np.random.default_rng(1)
    r = rng.choice([-1.0, 0.0, 1.0], size=(200, 1))
    out = analyze_rewards(np.hstack([r, -r]), ["p0", "p1"])
    assert out["structure"] == "competitive" and out["zero_sum"] and out["coupled"]


def test_two_teams_are_mixed():
    rng = np.random.default_rng(2)
    chase = rng.normal(size=(300, 1))
    rewards = np.hstack([chase, chase, chase, -chase + 0.5 * rng.normal(size=(300, 1))])
    out = analyze_rewards(rewards, ["x0", "x1", "x2", "y"])
    assert out["structure"] == "mixed" and out["teams"] == [["x0", "x1", "x2"], ["y"]]


def test_team_zero_sum_is_mixed():
    rng = np.random.default_rng(3)
    r = rng.normal(size=(300, 1))
    out = analyze_rewards(np.hstack([r, r, -r, -r]), ["a0", "a1", "b0", "b1"])
    assert out["structure"] == "mixed" and out["zero_sum"] and len(out["teams"]) == 2


def test_unrelated_individual_rewards_are_not_guessed():
    rng = np.random.default_rng(4)
    out = analyze_rewards(rng.normal(size=(500, 3)), AGENTS3)
    assert out["structure"] is None and not out["coupled"]
    assert "answer reward_structure yourself" in out["reason"]


def test_constant_rewards_are_not_guessed():
    out = analyze_rewards(np.zeros((100, 3)), AGENTS3)
    assert out["structure"] is None and "no agent's reward changed" in out["reason"]


# --- marl inspect --------------------------------------------------------------------------------


def test_cli_inspect_json():
    result = runner.invoke(app, ["inspect", "mpe2:simple_spread_v3", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert set(data) >= {"facts", "evidence"}
    assert data["facts"]["reward_structure"] == "cooperative" and data["facts"]["n_agents"] == 3


def test_cli_inspect_env_kwargs_and_rich_output():
    result = runner.invoke(app, ["inspect", "mpe2:simple_spread_v3", "--env-kwarg", "N=4"])
    assert result.exit_code == 0, result.output
    out = " ".join(result.stdout.split())
    assert "n_agents │ 4" in out and "cooperative" in out and "agent_3" in out
    assert "marl advise --env mpe2:simple_spread_v3 --env-kwarg N=4" in out


def test_cli_inspect_unknown_env_is_a_clear_error():
    result = runner.invoke(app, ["inspect", "nosuchpackage:thing_v0"])
    assert result.exit_code == 2
    assert "[unknown-env]" in result.stderr and "Traceback" not in result.output


def test_cli_inspect_bad_env_kwarg():
    result = runner.invoke(app, ["inspect", "mpe2:simple_spread_v3", "--env-kwarg", "N"])
    assert result.exit_code == 2 and "[bad-env-kwarg]" in result.stderr
