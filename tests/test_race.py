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


def _race_with_returns(tmp_path, monkeypatch, returns: dict[int, dict[str, list[float]]]) -> dict:
    """run_race on race_spec(3) (rungs 3000 and 9000 steps, seeds 0 and 1) with each rung's evaluation
    returns given instead of trained: {steps: {arm: returns}}."""
    import algorithms.training.race as race

    def fake_rung(spec, alive, steps, root, workers, ray_address, report):
        return {a.name: {"returns": returns[steps][a.name], "seconds": 1.0} for a in alive}
    monkeypatch.setattr(race, "_run_rung", fake_rung)
    return race.run_race(race_spec(3), "race: constructed\n", tmp_path / "r")


def test_the_race_stops_the_weakest_and_crowns_the_best_iqm(tmp_path, monkeypatch):
    out = _race_with_returns(tmp_path, monkeypatch, {3000: {"a0": [1.0, 2.0], "a1": [3.0, 4.0], "a2": [2.0, 6.0]},
                                                     9000: {"a1": [5.0, 7.0], "a2": [6.0, 9.0]}})
    arms = {arm["algorithm"]: arm for arm in out["arms"]}
    assert out["winner"] == "a2" and out["tied_with_winner"] == []
    assert [arms[a]["stopped_at"] for a in ("a0", "a1", "a2")] == [3000, 9000, 9000]
    assert (arms["a0"]["iqm"], arms["a1"]["iqm"], arms["a2"]["iqm"]) == (1.5, 6.0, 7.5)
    assert arms["a2"]["ci95"] == [6.0, 9.0] and arms["a2"]["p_winner_beats_this"] is None
    # P(a2 beats a1) at 9000 steps: 6 > 5, 6 < 7, 9 > 5, 9 > 7; P(a2 beats a0) at 3000, where a0 stopped:
    # 2 > 1, 2 = 2 (half), 6 > 1, 6 > 2.
    assert arms["a1"]["p_winner_beats_this"] == 0.75 and arms["a0"]["p_winner_beats_this"] == 0.875
    assert arms["a1"]["train_seconds"] == 2.0 and arms["a0"]["train_seconds"] == 1.0


def test_an_arm_tied_with_the_last_survivor_goes_on_and_the_earlier_arm_wins_a_tie(tmp_path, monkeypatch):
    out = _race_with_returns(tmp_path, monkeypatch, {3000: {"a0": [1.0, 2.0], "a1": [3.0, 4.0], "a2": [1.0, 2.0]},
                                                     9000: {"a0": [4.0, 4.0], "a1": [3.0, 3.0], "a2": [4.0, 4.0]}})
    arms = {arm["algorithm"]: arm for arm in out["arms"]}
    assert [arms[a]["stopped_at"] for a in ("a0", "a1", "a2")] == [9000, 9000, 9000]
    assert out["winner"] == "a0" and out["tied_with_winner"] == ["a2"]
    assert arms["a2"]["p_winner_beats_this"] == 0.5 and arms["a1"]["p_winner_beats_this"] == 1.0


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
    assert out["rungs"] == [100, 300] and out["advisor_pick"] == "qmix"
    arms = {arm["algorithm"]: arm for arm in out["arms"]}
    assert list(arms) == ["vdn", "iql", "qmix"]
    for arm in out["arms"]:
        assert arm["stopped_at"] in (100, 300) and len(arm["rungs"]) == (2 if arm["stopped_at"] == 300 else 1)
        assert arm["steps"] == arm["stopped_at"] and len(arm["rungs"][0]["returns"]) == 2
        for rung in arm["rungs"]:
            # Two seeds: the IQM cuts nothing (the mean), and the bootstrap's 2.5%/97.5% quantiles over the
            # resamples (a, a), (a, b), (b, a), (b, b) are the smaller and the larger return.
            a, b = sorted(rung["returns"])
            assert rung["iqm"] == pytest.approx((a + b) / 2) and rung["ci95"] == pytest.approx([a, b])
        assert (arm["iqm"], arm["ci95"]) == (arm["rungs"][-1]["iqm"], arm["rungs"][-1]["ci95"])
    # Successive halving: three arms, two go on; the one stopped at 100 steps had the lowest IQM there.
    finalists = [name for name, arm in arms.items() if arm["stopped_at"] == 300]
    assert len(finalists) >= 2
    for name, arm in arms.items():
        if name not in finalists:
            assert all(arm["rungs"][0]["iqm"] < arms[f]["rungs"][0]["iqm"] for f in finalists)
    # The winner: the best IQM at 300 steps, the earlier arm on a tie; P(winner beats X) over the 2 x 2 pairs.
    best = max(arms[f]["iqm"] for f in finalists)
    assert out["winner"] == next(f for f in finalists if arms[f]["iqm"] == best)
    assert out["tied_with_winner"] == [f for f in finalists if f != out["winner"] and arms[f]["iqm"] == best]
    for name, arm in arms.items():
        if name == out["winner"]:
            assert arm["p_winner_beats_this"] is None
            continue
        rival = arms[out["winner"]]["rungs"][len(arm["rungs"]) - 1]["returns"]
        pairs = [1.0 if w > x else 0.5 if w == x else 0.0 for w in rival for x in arm["rungs"][-1]["returns"]]
        assert arm["p_winner_beats_this"] == pytest.approx(sum(pairs) / 4)
    assert (tmp_path / "r" / "race.png").read_bytes()[:4] == b"\x89PNG"
    again = runner.invoke(app, ["race", "--env", "matrix:climbing", "--algorithms", "vdn,iql,qmix", "--budget",
                                "300", "--seeds", "2", "--eval-episodes", "2", "--out", str(tmp_path / "r"), "--json"])
    assert again.exit_code == 0 and json.loads(again.stdout)["arms"] == out["arms"]  # resumed: nothing retrained
    advised = runner.invoke(app, ["advise", "--env", "matrix:climbing", "--multiple-learners", "--coordination",
                                  "--observability", "full", "--centralized-training", "--no-communication",
                                  "--no-nonmonotonic", "--sample-budget", "cheap", "--json"])
    assert json.loads(advised.stdout)["measured"]["winner"] == out["winner"]
