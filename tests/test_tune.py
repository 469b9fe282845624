"""`marl tune` (spec validation, the drawn configurations, ASHA on Ray Tune, the best re-run on fresh seeds) and
`marl train --config` with a run's own config.yaml or tune's best.yaml."""
from __future__ import annotations

import json
import os
import sys

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from advisor.cli import app
from algorithms.core.run_lock import RunLock
from algorithms.training.benchmark import claim_bench_dir
from algorithms.training.tune import TUNE_LOCK
from algorithms.training.tune_spec import parse_tune_spec, validate_tune_spec

runner = CliRunner()
SMALL = {"algorithm": "vdn", "env": "matrix:climbing", "steps": 400, "samples": 3,
         "search": {"lr": {"loguniform": [1.0e-4, 3.0e-3]}}, "report_every": 200, "final_seeds": [100, 101],
         "eval_episodes": 2}


def said(result) -> str:
    """The command's output with the console's line wrapping undone."""
    return " ".join(result.output.split())


def write(tmp_path, data, name="tune.yaml"):
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.mark.parametrize("change, needle", [
    ({"serch": {}}, "did you mean 'search'"),
    ({"search": {"lr": {"logunifrom": [1e-4, 1e-3]}}}, "did you mean 'loguniform'"),
    ({"search": {"lr": {"uniform": [1e-3, 1e-4]}}}, "low < high"),
    ({"search": {"lr": {"loguniform": [0.0, 1e-3]}}}, "positive low bound"),
    ({"search": {"hidden_size": {"randint": [16, 64.5]}}}, "randint bounds are integers"),
    ({"search": {"lr": {"choice": []}}}, "non-empty list"),
    ({"set": {"lr": 1e-3}}, "both searched and fixed"),
    ({"final_seeds": [0, 1]}, "the seed the search trained with"),
    ({"report_every": 1000}, "larger than steps"),
    ({"env": {"env": "matrix:climbing", "kwargs": {}}}, "'env' is an env string"),
])
def test_structural_errors_are_one_message(tmp_path, change, needle):
    result = runner.invoke(app, ["tune", str(write(tmp_path, {**SMALL, **change})), "--out", str(tmp_path / "t")])
    assert result.exit_code == 2 and "bad-tune-spec" in result.output and needle in said(result), result.output
    assert "Traceback" not in result.output and not (tmp_path / "t").exists()


@pytest.mark.parametrize("change, needle", [
    ({"search": {"lrr": {"uniform": [0.1, 0.2]}}}, "did you mean 'lr'"),
    ({"search": {"activation": {"choice": ["tanh", "sigmoidish"]}}}, "activation"),
    ({"algorithm": "qmixx"}, "qmix"),
    ({"env": "matrix:nosuchgame"}, "nosuchgame"),
])
def test_a_field_or_value_the_algorithm_lacks_is_refused_before_anything_runs(tmp_path, change, needle):
    if "activation" in str(change):
        change = {**change, "algorithm": "mappo"}
    result = runner.invoke(app, ["tune", str(write(tmp_path, {**SMALL, **change})), "--out", str(tmp_path / "t")])
    assert result.exit_code == 2 and needle in said(result) and "Traceback" not in result.output, result.output
    assert not (tmp_path / "t").exists()


def test_configurations_are_drawn_from_the_space_with_the_spec_seed():
    data = {**SMALL, "samples": 200, "set": {"gamma": 0.9},
            "search": {"lr": {"loguniform": [1e-4, 1e-2]}, "hidden_size": {"randint": [16, 18]},
                       "double_q": {"choice": [True, False]}, "tau": {"uniform": [0.1, 0.2]}}}
    spec = parse_tune_spec(data)
    draws = spec.configurations()
    assert draws == parse_tune_spec(data).configurations()  # same spec, same draws
    assert draws != parse_tune_spec({**data, "seed": 7}).configurations()
    lr = np.array([d["lr"] for d in draws])
    assert lr.min() >= 1e-4 and lr.max() <= 1e-2 and (lr < 1e-3).mean() == pytest.approx(0.5, abs=0.15)  # log scale
    assert {d["hidden_size"] for d in draws} == {16, 17, 18}  # both ends included
    assert {d["double_q"] for d in draws} == {True, False}
    assert all(0.1 <= d["tau"] <= 0.2 and d["gamma"] == 0.9 for d in draws)
    validate_tune_spec(spec)
    assert parse_tune_spec({**SMALL, "steps": 1000, "report_every": 300}).budgets() == [300, 600, 900, 1000]


def test_a_missing_ray_is_one_message_with_the_install_command(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    result = runner.invoke(app, ["tune", str(write(tmp_path, SMALL)), "--out", str(tmp_path / "t")])
    assert result.exit_code == 2 and "missing-ray" in result.output and 'marl-advisor[ray]' in said(result)
    assert "Traceback" not in result.output


def test_a_tuning_directory_that_another_marl_tune_holds_is_one_message_and_left_alone(tmp_path):
    spec = write(tmp_path, SMALL)
    root = tmp_path / "t"
    claim_bench_dir(root, spec.read_text())  # as the other `marl tune` of this spec made it
    other = RunLock(root, TUNE_LOCK)
    try:
        result = runner.invoke(app, ["tune", str(spec), "--out", str(root)])
    finally:
        other.release()
    assert result.exit_code == 2 and "run-in-use" in result.output, result.output
    assert f"being tuned by pid {os.getpid()}" in said(result) and "Traceback" not in result.output
    assert sorted(p.name for p in root.iterdir()) == ["spec.yaml", "tune.lock"]  # nothing drawn, nothing trained


@pytest.mark.slow
def test_tune_stops_weak_configurations_reruns_the_best_and_resumes(tmp_path):
    spec = write(tmp_path, {**SMALL, "samples": 4})
    root = tmp_path / "t"
    first = runner.invoke(app, ["tune", str(spec), "--out", str(root), "--json"])
    assert first.exit_code == 0, first.output
    out = json.loads(first.output[first.output.index("{"):])
    assert len(out["trials"]) == 4
    for trial in out["trials"]:
        steps = [r["env_steps"] for r in trial["reports"]]
        assert trial["status"] in ("completed", "stopped") and steps == sorted(steps) and steps[0] >= 200
        if trial["status"] == "stopped":
            assert trial["stopped_at"] == steps[-1] < 400
    completed = [t for t in out["trials"] if t["status"] == "completed"]
    assert out["best"]["search_return"] == max(t["return"] for t in completed)
    assert out["best"]["config"]["lr"] == out["trials"][out["best"]["trial"]]["config"]["lr"]
    final = {s["algorithm"]: s for s in out["final"]["summary"]}
    assert final["best"]["n"] == 2 and final["defaults"]["n"] == 2
    finals = {arm: [t["return"] for t in out["final"]["trials"] if t["algorithm"] == arm and t["status"] == "done"]
              for arm in ("best", "defaults")}
    assert len(finals["best"]) == len(finals["defaults"]) == 2
    pairs = [1.0 if b > d else 0.5 if b == d else 0.0 for b in finals["best"] for d in finals["defaults"]]
    assert out["final"]["probability_of_improvement"] == pytest.approx(sum(pairs) / 4)  # P(best > defaults)
    # the best configuration trains through `marl train --config`, with the tuned learning rate
    trained = runner.invoke(app, ["train", "--config", str(root / "best.yaml"), "--steps", "200", "--out",
                                  str(tmp_path / "run")])
    assert trained.exit_code == 0, trained.output
    config = yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())
    assert config["algo"] == "vdn" and config["config"]["lr"] == pytest.approx(out["best"]["config"]["lr"])
    # the same command again: every evaluation replayed from disk, nothing retrained, the same answer
    again = runner.invoke(app, ["tune", str(spec), "--out", str(root), "--json"])
    assert again.exit_code == 0, again.output
    out2 = json.loads(again.output[again.output.index("{"):])
    assert out2["best"] == out["best"] and out2["final"]["summary"] == out["final"]["summary"]


def test_the_final_comparison_is_p_best_beats_defaults_over_the_final_seeds():
    from algorithms.training.tune import _final_statistics

    def trial(arm, value, status="done"):
        return {"algorithm": arm, "return": value, "status": status}
    final = {"summary": [], "trials": [trial("best", 2.0), trial("best", 5.0), trial("best", 99.0, "failed"),
                                       trial("defaults", 1.0), trial("defaults", 3.0)]}
    # 2 > 1, 2 < 3, 5 > 1, 5 > 3 (the failed trial left out): 3 of 4 pairs
    assert _final_statistics(final)["probability_of_improvement"] == 0.75
    final["trials"][3:] = [trial("defaults", 2.0), trial("defaults", 5.0)]  # the same returns: a tie
    assert _final_statistics(final)["probability_of_improvement"] == 0.5
    final["trials"][3:] = [trial("defaults", 9.0, "failed")]  # no defaults to compare with: no figure
    assert "probability_of_improvement" not in _final_statistics(final)


# --- marl train --config with a run config ------------------------------------------------------------------


def train(tmp_path, *args):
    return runner.invoke(app, ["train", *args])


def test_a_run_config_trains_again_with_its_settings_and_the_command_line_on_top(tmp_path):
    first = train(tmp_path, "vdn", "--env", "matrix:climbing", "--steps", "200", "--seed", "4", "--set", "lr=0.002",
                  "--eval-episodes", "3", "--out", str(tmp_path / "a"))
    assert first.exit_code == 0, first.output
    again = train(tmp_path, "--config", str(tmp_path / "a" / "config.yaml"), "--out", str(tmp_path / "b"))
    assert again.exit_code == 0, again.output
    a, b = (yaml.safe_load((tmp_path / d / "config.yaml").read_text()) for d in "ab")
    assert a == b  # algorithm, env, seed, steps, evaluation and every config field
    assert (tmp_path / "a" / "metrics.csv").read_text() == (tmp_path / "b" / "metrics.csv").read_text()
    third = train(tmp_path, "--config", str(tmp_path / "a" / "config.yaml"), "--seed", "5", "--set", "hidden_size=32",
                  "--out", str(tmp_path / "c"))
    assert third.exit_code == 0, third.output
    c = yaml.safe_load((tmp_path / "c" / "config.yaml").read_text())
    assert c["seed"] == 5 and c["config"]["hidden_size"] == 32 and c["config"]["lr"] == 0.002 and c["steps"] == 200


@pytest.mark.parametrize("content, needle", [
    ({"algo": "vdn", "env": "matrix:climbing", "stepz": 3}, "unknown key 'stepz'"),
    ({"algo": "vdn", "env": "matrix:climbing", "steps": "many"}, "'steps' must be an integer"),
    ({"algo": "vdn", "env": "matrix:climbing", "config": [1]}, "'config' must be a mapping"),
    ({"algo": "vdn", "env": "matrix:climbing", "config": {"lrr": 0.1}}, "lrr"),
])
def test_a_bad_run_config_is_one_message(tmp_path, content, needle):
    result = train(tmp_path, "--config", str(write(tmp_path, content, "run.yaml")), "--out", str(tmp_path / "r"))
    assert result.exit_code == 2 and needle in said(result) and "Traceback" not in result.output, result.output
    assert not (tmp_path / "r").exists()


def test_a_run_config_for_another_algorithm_is_refused(tmp_path):
    path = write(tmp_path, {"algo": "vdn", "env": "matrix:climbing", "config": {"lr": 0.001}}, "run.yaml")
    result = train(tmp_path, "qmix", "--config", str(path), "--out", str(tmp_path / "r"))
    assert result.exit_code == 2 and "holds vdn's config" in said(result)
    result = train(tmp_path, "--config", str(path), "--resume", str(tmp_path))
    assert result.exit_code == 2 and "bad-resume" in result.output


def test_the_example_spec_is_valid():
    from pathlib import Path

    from algorithms.training.tune_spec import load_tune_spec

    spec = load_tune_spec(Path(__file__).resolve().parents[1] / "examples" / "tune_mappo_spread.yaml")
    validate_tune_spec(spec)
    assert spec.algorithm == "mappo" and spec.budgets()[-1] == spec.steps and len(spec.final_seeds) == 5
