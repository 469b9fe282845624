"""`marl race`: the successive-halving schedule, the verdict against the advisor's pick, the record `marl advise
--env` shows, and bad input."""
from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from advisor.cli import app
from advisor.race import verdict
from algorithms.errors import MARLError
from algorithms.training.benchmark_spec import AlgorithmChoice, EnvChoice
from algorithms.training.race import RaceSpec

runner = CliRunner()


def race_spec(n_arms: int, budget: int = 9000, eta: int = 3) -> RaceSpec:
    return RaceSpec([AlgorithmChoice(f"a{i}", {}, f"a{i}") for i in range(n_arms)], EnvChoice("matrix:climbing"),
                    [0, 1], budget, eta)


def test_rungs_halve_the_arms_until_two_race_to_the_full_budget():
    assert race_spec(3).rungs() == [(3000, 3), (9000, 2)]
    assert race_spec(2).rungs() == [(9000, 2)]
    assert race_spec(9, 8100).rungs() == [(900, 9), (2700, 3), (8100, 2)]
    assert race_spec(5, 1000, eta=2).rungs() == [(250, 5), (500, 3), (1000, 2)]
    with pytest.raises(MARLError, match="at least two"):
        race_spec(1).rungs()


def arm_row(name, iqm, steps, p=None):
    return {"algorithm": name, "iqm": iqm, "steps": steps, "p_winner_beats_this": p}


def test_the_verdict_confirms_or_names_who_beat_the_pick():
    out = {"winner": "qplex", "arms": [arm_row("qplex", 8.0, 9000), arm_row("qmix", 0.0, 3000, 1.0),
                                       arm_row("vdn", 0.0, 9000, 0.9)]}
    assert verdict(out, "qplex").startswith("the advisor's pick qplex is confirmed")
    beaten = verdict(out, "qmix")
    assert "beaten by qplex" in beaten and "= 1.00" in beaten and "3,000" in beaten
    assert "was not in the race" in verdict(out, "iql")
    tie = {"winner": "vdn", "tied_with_winner": ["qmix"], "arms": [arm_row("vdn", 5.0, 900),
                                                                   arm_row("qmix", 5.0, 900, 0.5)]}
    assert "tied with vdn" in verdict(tie, "qmix")


@pytest.mark.parametrize("argv, needle", [
    (["--algorithms", "vdn,vdm"], "vdm"),
    (["--algorithms", "vdn,vdn"], "repeats"),
    (["--top", "1"], "--top at least 2"),
    (["--budget", "0"], "--budget and --seeds"),
    (["--reward-structure", "friendly"], "reward_structure"),
])
def test_bad_requests_stop_before_anything_runs(tmp_path, argv, needle):
    base = ["race", "--env", "matrix:climbing", "--budget", "300", "--out", str(tmp_path / "r")]
    result = runner.invoke(app, base + argv)
    assert result.exit_code == 2 and needle in " ".join(result.output.split()), result.output
    assert "Traceback" not in result.output and not (tmp_path / "r").exists()


def test_a_small_race_runs_writes_its_record_and_advise_shows_it(tmp_path):
    result = runner.invoke(app, ["race", "--env", "matrix:climbing", "--algorithms", "vdn,iql,qmix", "--budget",
                                 "300", "--seeds", "2", "--eval-episodes", "2", "--out", str(tmp_path / "r"),
                                 "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["rungs"] == [100, 300] and out["advisor_pick"] == "qmix" and out["winner"] in ("vdn", "iql", "qmix")
    for arm in out["arms"]:
        assert arm["stopped_at"] in (100, 300) and len(arm["rungs"]) == (2 if arm["stopped_at"] == 300 else 1)
        assert arm["ci95"][0] <= arm["iqm"] <= arm["ci95"][1] and len(arm["rungs"][0]["returns"]) == 2
    assert (tmp_path / "r" / "race.png").read_bytes()[:4] == b"\x89PNG"
    again = runner.invoke(app, ["race", "--env", "matrix:climbing", "--algorithms", "vdn,iql,qmix", "--budget",
                                "300", "--seeds", "2", "--eval-episodes", "2", "--out", str(tmp_path / "r"), "--json"])
    assert again.exit_code == 0 and json.loads(again.stdout)["arms"] == out["arms"]  # resumed: nothing retrained
    advised = runner.invoke(app, ["advise", "--env", "matrix:climbing", "--multiple-learners", "--coordination",
                                  "--observability", "full", "--centralized-training", "--no-communication",
                                  "--no-nonmonotonic", "--sample-budget", "cheap", "--json"])
    assert json.loads(advised.stdout)["measured"]["winner"] == out["winner"]
