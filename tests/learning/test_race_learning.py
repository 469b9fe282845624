"""`marl race` where the literature is clear (measured before the assertions were written; budgets and seeds in
each docstring). Slow tier: each race trains a few arms on a matrix game for thousands of steps."""
from __future__ import annotations

import json

from typer.testing import CliRunner

from advisor.cli import app

runner = CliRunner()


def race(tmp_path, env: str, algorithms: str, budget: int, *flags: str, eta: int = 2) -> dict:
    result = runner.invoke(app, ["race", "--env", env, "--algorithms", algorithms, "--budget", str(budget), "--eta",
                                 str(eta), "--seeds", "2", "--workers", "2", "--eval-episodes", "4", "--out",
                                 str(tmp_path / "race"), "--json", *flags])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_qplex_wins_the_nonmonotonic_game_against_the_monotonic_mixers(tmp_path):
    """Son et al. 2019 (QTRAN) Table 1a; Wang et al. 2021 (QPLEX) Sec. 5.1: VDN and QMIX cannot represent the
    optimum (A, A) = 8 and settle in the 0 block; QPLEX can. Measured here with the default settings (the
    parallel schedule, 64 copies; seeds 0, 1, 2; deterministic payoff at 3k / 6k / 12k / 24k / 48k env steps):
    QPLEX 0/0/0/8/8, 0/0/0/-12/8, 0/0/-12/0/8, and 8 at 96k on seeds 0 and 1; QMIX 0 throughout, VDN 0 at 48k.
    The race: 3 arms to 48,000 steps, then the best two (and ties) to 96,000."""
    out = race(tmp_path, "matrix:nonmonotonic", "qmix,vdn,qplex", 96000, "--nonmonotonic", "--coordination",
               "--centralized-training", "--observability", "full")
    assert out["winner"] == "qplex" and out["advisor_pick"] == "qplex", out["verdict"]
    assert out["verdict"].startswith("the advisor's pick qplex is confirmed")
    rows = {a["algorithm"]: a for a in out["arms"]}
    assert rows["qplex"]["iqm"] == 8.0 and max(rows["qmix"]["iqm"], rows["vdn"]["iqm"]) <= 0.0


def test_iql_does_not_win_the_climbing_game_against_a_joint_action_learner(tmp_path):
    """Claus & Boutilier 1998: independent learners settle on the safe (c, c) = 5 of the climbing game; a
    learner of the joint action value can reach (a, a) = 11. Measured here with the default settings (the
    parallel schedule, 64 copies; deterministic payoff at 48k / 96k / 200k env steps): QPLEX 5/11/11, 5/11/11,
    11/11/11, 6/11/11 on seeds 0-3; IQL 5 at 3k-48k on seeds 0-2 and at 96k on seeds 0 and 1. IQL is listed first, so
    a tie would make it the winner. The race is one rung of 96k (eta 18)."""
    out = race(tmp_path, "matrix:climbing", "iql,qplex", 96000, eta=18)
    rows = {a["algorithm"]: a for a in out["arms"]}
    assert out["winner"] == "qplex" and not out["tied_with_winner"], out["verdict"]
    assert rows["iql"]["iqm"] == 5.0 and rows["qplex"]["iqm"] > 5.0
