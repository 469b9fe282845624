"""`marl plot` and `marl compare` on real (tiny) run directories."""
import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from advisor.cli import app
from advisor.curves import aggregate, load_run
from algorithms.training.run import RunSpec, Trainer

runner = CliRunner()
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, list[Path]]:
    """Three seeds each of MAPPO and IPPO, 300 steps, so curves have several points."""
    root = tmp_path_factory.mktemp("runs")
    out: dict[str, list[Path]] = {"mappo": [], "ippo": []}
    for algo in out:
        for seed in range(3):
            path = root / f"{algo}-{seed}"
            spec = RunSpec(algo, "mpe2:simple_spread_v3", {}, steps=300, seed=seed, num_envs=2, device="cpu",
                           checkpoint_every=10**9, eval_episodes=2, config={"rollout_steps": 25, "epochs": 1})
            Trainer.create(spec, path).train()
            out[algo].append(path)
    return out


def test_plot_one_run_and_three_seeds_of_two_algorithms(runs, tmp_path):
    one = tmp_path / "one.png"
    result = runner.invoke(app, ["plot", str(runs["mappo"][0]), "--out", str(one)])
    assert result.exit_code == 0, result.output
    assert one.read_bytes()[:8] == PNG
    many = tmp_path / "many.png"
    result = runner.invoke(app, ["plot", *map(str, runs["mappo"] + runs["ippo"]), "--out", str(many),
                                 "--metric", "losses/entropy"])
    assert result.exit_code == 0, result.output
    assert many.read_bytes()[:8] == PNG and "2 curves from 6 runs" in " ".join(result.output.split())


def test_aggregate_gives_mean_and_a_band_that_contains_it(runs):
    loaded = [load_run(p) for p in runs["mappo"]]
    (curve,) = aggregate(loaded, "losses/entropy", points=20)
    assert curve.runs == 3 and curve.steps.shape == (20,)
    per_run = np.stack([np.interp(curve.steps, r.columns["env_steps"], r.columns["losses/entropy"]) for r in loaded])
    np.testing.assert_allclose(curve.mean, per_run.mean(axis=0))
    assert np.all(curve.low <= curve.mean) and np.all(curve.high >= curve.mean)
    assert np.any(curve.high > curve.low)  # seeds differ, so the band has width


def test_compare_reports_final_returns_and_speed(runs):
    result = runner.invoke(app, ["compare", *map(str, runs["mappo"][:2]), "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert [r["seed"] for r in rows] == [0, 1] and all(r["return_source"] == "eval.json" for r in rows)
    evaluation = json.loads((runs["mappo"][0] / "eval.json").read_text())
    assert rows[0]["final_return"] == evaluation["return_mean"]
    assert rows[0]["steps_per_s"] > 0 and rows[0]["wall_time_s"] > 0 and rows[0]["env_steps"] == 300
    table = runner.invoke(app, ["compare", str(runs["ippo"][0])])
    assert table.exit_code == 0 and "ippo" in table.output


def test_bad_inputs_give_clear_errors(runs, tmp_path):
    no_metrics = tmp_path / "empty-run"
    no_metrics.mkdir()
    (no_metrics / "config.yaml").write_text((runs["mappo"][0] / "config.yaml").read_text())
    for args, needle in ((["plot", str(no_metrics), "--out", str(tmp_path / "x.png")], "no-metrics"),
                         (["plot", str(runs["mappo"][0]), "--metric", "charts/retrun_mean",
                           "--out", str(tmp_path / "x.png")], "did you mean 'charts/return_mean'"),
                         (["plot", str(runs["mappo"][0]), "--out", str(tmp_path / "x.jpg")], "bad-output"),
                         (["compare", str(tmp_path / "missing")], "missing-run-dir")):
        result = runner.invoke(app, args)
        assert result.exit_code == 2 and needle in result.output, result.output
    assert not (tmp_path / "x.png").exists()


def test_runs_with_different_settings_are_not_merged_into_one_band(runs, tmp_path):
    other = tmp_path / "mappo-lr"
    spec = RunSpec("mappo", "mpe2:simple_spread_v3", {"N": 2}, steps=100, seed=0, num_envs=2, device="cpu",
                   checkpoint_every=10**9, eval_episodes=1, config={"rollout_steps": 25, "epochs": 1, "lr": 1e-3})
    Trainer.create(spec, other).train()
    curves = aggregate([load_run(p) for p in runs["mappo"]] + [load_run(other)], "losses/entropy")
    labels = sorted(c.label for c in curves)
    assert len(curves) == 2 and [c.runs for c in sorted(curves, key=lambda c: c.label)] == [1, 3]
    assert "N=2" in labels[0] and "lr=0.001" in labels[0] and "lr=" not in labels[1] and "epochs=1" in labels[1]
    result = runner.invoke(app, ["compare", str(other), "--json"])
    assert "lr=0.001" in json.loads(result.output)[0]["settings"]


def test_runs_evaluated_with_sampled_actions_are_their_own_group(runs, tmp_path):
    sampled = tmp_path / "mappo-sampled"
    spec = RunSpec("mappo", "mpe2:simple_spread_v3", {}, steps=300, seed=3, num_envs=2, device="cpu",
                   checkpoint_every=10**9, eval_episodes=2, eval_deterministic=False,
                   config={"rollout_steps": 25, "epochs": 1})
    Trainer.create(spec, sampled).train()
    curves = aggregate([load_run(p) for p in runs["mappo"]] + [load_run(sampled)], "losses/entropy")
    runs_per_group = {"eval_deterministic=False" in c.label: c.runs for c in curves}
    assert runs_per_group == {False: 3, True: 1}, [c.label for c in curves]
    assert load_run(runs["mappo"][0]).algorithm_label == "mappo [epochs=1, rollout_steps=25]"


def test_the_t_quantile_is_exact_for_any_degrees_of_freedom():
    from advisor.curves import t95

    assert t95(1) == pytest.approx(12.706, abs=1e-3) and t95(4) == pytest.approx(2.776, abs=1e-3)
    assert t95(40) == pytest.approx(2.021, abs=1e-3)  # not the table's 2.042 nor 1.96
