"""`marl credit`: counterfactual credit and Shapley values on a game where one agent's action changes nothing,
and the mixer's view for value decomposition."""
from __future__ import annotations

import json
import math
from itertools import combinations

import pytest
from typer.testing import CliRunner

from advisor.cli import app
from algorithms.training.credit import shapley_weights

runner = CliRunner()


@pytest.fixture(scope="module")
def vdn_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("credit") / "vdn"
    result = runner.invoke(app, ["train", "vdn", "--env", "matrix:bystander", "--steps", "3000", "--eval-episodes",
                                 "4", "--out", str(run)])
    assert result.exit_code == 0, result.output
    return run


def test_the_bystander_gets_no_credit_and_the_others_do(vdn_run):
    result = runner.invoke(app, ["credit", str(vdn_run), "--episodes", "24", "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["baseline"] == "random"  # a matrix game has no no-op action
    bystander = out["per_agent"]["agent_2"]
    assert bystander["ci95"][0] <= 0.0 <= bystander["ci95"][1] and abs(bystander["shapley"]) < 1e-9
    for agent in ("agent_0", "agent_1"):
        row = out["per_agent"][agent]
        assert row["ci95"][0] > 0 and row["shapley"] > 0  # replacing a player of action 0 loses team return
    # Shapley values share out exactly what the team gains over everyone replaced
    total = sum(r["shapley"] for r in out["per_agent"].values())
    assert total == pytest.approx(out["team_return"] - out["team_return_all_replaced"])
    mixer = out["mixer"]["per_agent"]
    assert all(m["dqtot_dqi_mean"] == pytest.approx(1.0) for m in mixer.values())  # VDN: Q_tot is the sum
    assert abs(mixer["agent_2"]["share_mean"]) < min(mixer["agent_0"]["share_mean"], mixer["agent_1"]["share_mean"])
    assert (vdn_run / "credit.png").read_bytes()[:4] == b"\x89PNG" and (vdn_run / "credit.json").exists()


def test_bad_requests_are_one_message(vdn_run, tmp_path):
    for argv, code in ((["credit", str(vdn_run), "--baseline", "noop"], "bad-baseline"),
                       (["credit", str(vdn_run), "--baseline", "idle"], "bad-baseline"),
                       (["credit", str(vdn_run), "--episodes", "1"], "bad-episodes"),
                       (["credit", str(tmp_path / "nothing")], "missing-run-dir")):
        result = runner.invoke(app, argv)
        assert result.exit_code == 2 and code in result.output and "Traceback" not in result.output, result.output


@pytest.mark.parametrize("n", [2, 3, 5, 8])
def test_shapley_weights_sum_to_one_over_the_coalitions_without_an_agent(n):
    weights = shapley_weights(n)
    total = sum(weights[len(c)] for k in range(n) for c in combinations(range(n - 1), k))
    assert total == pytest.approx(1.0)
    assert weights[0] == pytest.approx(1 / n) and weights[n - 1] == pytest.approx(1 / n)
    assert weights[1] == pytest.approx(math.factorial(n - 2) / math.factorial(n))


def test_any_algorithm_gets_counterfactual_credit_and_no_mixer_view(tmp_path):
    run = tmp_path / "ippo"
    assert runner.invoke(app, ["train", "ippo", "--env", "matrix:bystander", "--steps", "400", "--eval-episodes", "2",
                               "--out", str(run)]).exit_code == 0
    result = runner.invoke(app, ["credit", str(run), "--episodes", "4", "--no-shapley", "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert "mixer" not in out and all(r["shapley"] is None for r in out["per_agent"].values())
    assert out["per_agent"]["agent_2"]["counterfactual"] == 0.0  # whatever the policy, agent_2 changes nothing


def test_mfq_coalitions_remember_the_actions_executed_not_those_chosen():
    """MF-Q's memory is its neighbours' mean action: with some agents on the baseline, the agents left in must
    condition their next step on what the baseline agents really did."""
    import numpy as np
    import torch

    from algorithms import make
    from algorithms.core.env_registry import make_vec_env
    from algorithms.core.reference_policies import FixedPolicy
    from algorithms.core.tensors import to_tensor
    from algorithms.training.credit import Coalition

    torch.manual_seed(0)
    envs = make_vec_env("mpe2:simple_spread_v3", {"N": 3}, num_envs=16)
    algo = make("mfq", envs)
    step = envs.reset(seed=0)
    members = np.array([True, False, True])
    coalition = Coalition(algo, FixedPolicy(algo.info, "random", seed=1), members)
    chosen, _ = algo.act(step, algo.initial_memory(16), True)
    executed, memory = coalition.act(step, algo.initial_memory(16), True)
    assert (executed[:, 1] != chosen[:, 1]).any() and (executed[:, members] == chosen[:, members]).all()

    def mean(actions):
        return algo.neighbourhood.mean_actions(*(to_tensor(x, algo.device) for x in (step.obs, actions, step.alive)))

    torch.testing.assert_close(memory, mean(executed))
    assert not torch.allclose(memory, mean(chosen))
