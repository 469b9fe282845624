"""The guard before training: `marl check` and `marl train`'s refusal of an algorithm that does not fit the env
(catalogue capabilities and the advisor's exclusion rules against what inspection detects), `--force`, the cache."""
from __future__ import annotations

import json

import yaml
from typer.testing import CliRunner

from advisor.cli import app
from advisor.guard import check_fit, detected_facts

runner = CliRunner()
TICTACTOE = "pettingzoo.classic:tictactoe_v3"


def said(result) -> str:
    return " ".join(result.output.split())


def test_qmix_on_a_zero_sum_game_is_a_hard_mismatch_with_the_advisors_pick():
    report = check_fit("qmix", TICTACTOE)
    assert report.facts["reward_structure"] == "competitive"
    assert [f.rule for f in report.hard] == ["catalogue"] and "cooperative" in report.hard[0].because
    assert report.pick == "self_play"


def test_the_exclusion_rules_hold_for_many_agents_and_continuous_states():
    many = check_fit("maddpg", "batched:simple_spread_v3", {"N": 120})
    assert "large-population-no-joint-critic" in [f.rule for f in many.hard]
    assert many.pick in ("mfac", "mfq") and "many-agents" in [f.rule for f in many.soft]
    nash = check_fit("nash_q", "mpe2:simple_spread_v3")
    assert any("tabular" in f.what for f in nash.hard) and any("n_agents" in f.what for f in nash.hard)
    assert any("observability" in f.what for f in nash.soft)  # cannot be detected: a warning, not a stop


def test_a_fitting_algorithm_passes_and_a_state_less_env_warns_for_a_mixer():
    fits = check_fit("vdn", "matrix:climbing")
    assert not fits.hard
    lbf = check_fit("qmix", "lbforaging:Foraging-8x8-2p-2f-coop-v3")
    assert not lbf.hard and "centralised-without-state" in [f.rule for f in lbf.soft]
    assert "centralised-without-state" not in [f.rule for f in check_fit("vdn", "lbforaging:Foraging-8x8-2p-2f-coop-v3").soft]


def test_marl_check_json_and_exit_codes():
    bad = runner.invoke(app, ["check", "qmix", "--env", TICTACTOE, "--json"])
    assert bad.exit_code == 1
    data = json.loads(bad.stdout)
    assert data["fits"] is False and data["advisor_pick"] == "self_play" and data["hard"][0]["rule"] == "catalogue"
    good = runner.invoke(app, ["check", "vdn", "--env", "matrix:climbing"])
    assert good.exit_code == 0 and "fits" in good.output
    unknown = runner.invoke(app, ["check", "qmixx", "--env", "matrix:climbing"])
    assert unknown.exit_code == 2 and "Traceback" not in unknown.output


def test_train_stops_before_writing_anything_and_force_records_the_override(tmp_path):
    argv = ["train", "qmix", "--env", TICTACTOE, "--steps", "200", "--eval-episodes", "2"]
    stopped = runner.invoke(app, [*argv, "--out", str(tmp_path / "a")])
    assert stopped.exit_code == 2 and "does-not-fit" in stopped.output, stopped.output
    assert "self_play" in said(stopped) and "--force" in said(stopped) and not (tmp_path / "a").exists()
    forced = runner.invoke(app, [*argv, "--force", "--out", str(tmp_path / "b")])
    assert forced.exit_code == 0, forced.output
    config = yaml.safe_load((tmp_path / "b" / "config.yaml").read_text())
    assert config["forced"] and "reward_structure" in config["forced"][0]
    seeds = runner.invoke(app, [*argv, "--force", "--seeds", "0,1", "--out", str(tmp_path / "s")])
    assert seeds.exit_code == 0, seeds.output
    for seed in (0, 1):  # every seed's run records the override, as the single run does
        trial = yaml.safe_load((tmp_path / "s" / "qmix" / "tictactoe_v3" / f"seed-{seed}" / "config.yaml").read_text())
        assert trial["forced"] == config["forced"]
    fine = runner.invoke(app, ["train", "vdn", "--env", "matrix:climbing", "--steps", "200", "--out", str(tmp_path / "c")])
    assert fine.exit_code == 0 and yaml.safe_load((tmp_path / "c" / "config.yaml").read_text())["forced"] == []


def test_inspection_is_cached_by_env_and_kwargs(tmp_path, monkeypatch):
    monkeypatch.setenv("MARL_CACHE_DIR", str(tmp_path))
    calls = []
    import advisor.guard as guard

    real = guard.inspect_env
    monkeypatch.setattr(guard, "inspect_env", lambda env, kwargs: calls.append((env, kwargs)) or real(env, kwargs))
    first = detected_facts("mpe2:simple_spread_v3", {"N": 2})
    assert detected_facts("mpe2:simple_spread_v3", {"N": 2}) == first and len(calls) == 1
    assert detected_facts("mpe2:simple_spread_v3", {"N": 4})["n_agents"] == 4 and len(calls) == 2
    for path in (tmp_path / "inspect").iterdir():  # a damaged entry is inspected again, not trusted
        path.write_text("{not json")
    assert detected_facts("mpe2:simple_spread_v3", {"N": 2}) == first and len(calls) == 3
