"""`marl benchmark`: spec validation, trials into one directory, skip and resume on re-run, a failing trial
recorded while the others go on, local workers, and the statistics over seeds."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from advisor.cli import app
from algorithms.core.statistics import bootstrap_ci, iqm, summarise
from algorithms.errors import MARLError
from algorithms.training.benchmark_spec import conflict, parse_spec, validate

runner = CliRunner()
SMALLEST = {"algorithms": ["vdn", "qmix"], "envs": ["matrix:climbing"], "seeds": [0, 1], "steps": 300}


def write_spec(tmp_path, data, name="spec.yaml"):
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data))
    return path


def bench(tmp_path, spec_path, *extra):
    return runner.invoke(app, ["benchmark", str(spec_path), "--out", str(tmp_path / "bench"), "--json", *extra])


# --- statistics -------------------------------------------------------------------------------------------


def test_iqm_is_the_mean_of_the_middle_half():
    # Where the IQM is neither the mean nor the median: two cut from each end of eight, the middle four averaged.
    x = [100, 0, 13, 1, 8, 2, 5, 3]                     # unsorted: iqm sorts
    assert iqm(x) == 4.5 and np.mean(x) == 16.5 and np.median(x) == 4.0
    # n not a multiple of 4: int(n / 4) cut from each end, as scipy.stats.trim_mean(x, 0.25) (rliable's IQM).
    assert iqm([0, 1, 2, 6, 50]) == 3.0                 # one cut from each end of five (median 2, mean 11.8)
    assert iqm([0, 1, 2, 4, 9, 100]) == 4.0             # one cut from each end of six (median 3)
    assert iqm([0, 1, 2, 4, 9, 20, 100]) == pytest.approx(7.2)  # one cut from each end of seven (median 4)
    assert iqm([0, 10, 10, 10, 10, 10, 10, 100]) == 10  # two cut from each end of eight
    assert iqm([3.0, 5.0]) == 4.0                       # fewer than four: nothing to cut
    from scipy.stats import trim_mean
    rng = np.random.default_rng(0)
    for n in range(1, 14):
        values = rng.lognormal(0, 2, n)                 # skewed: the trimmed mean is neither mean nor median
        assert iqm(values) == pytest.approx(trim_mean(values, 0.25), rel=1e-12), n


def test_bootstrap_interval_brackets_the_statistic_and_narrows_with_agreement():
    rng = np.random.default_rng(0)
    spread = rng.normal(0, 1, 10)
    lo, hi = bootstrap_ci(spread, iqm)
    assert lo <= iqm(spread) <= hi and hi - lo > 0.1
    assert bootstrap_ci([2.0, 2.0, 2.0], iqm) == (2.0, 2.0)
    tight = bootstrap_ci(spread / 100, iqm)
    assert tight[1] - tight[0] < (hi - lo) / 50
    s = summarise([0.0, 1.0, 2.0, 3.0, 5.0, 8.0, 13.0, 100.0])
    assert s["n"] == 8 and s["mean"] == 16.5 and s["iqm"] == 4.5 and s["ci95"][0] <= 4.5 <= s["ci95"][1]
    assert s["ci95"] == list(bootstrap_ci([0.0, 1.0, 2.0, 3.0, 5.0, 8.0, 13.0, 100.0], iqm))  # the IQM's interval


# --- the spec ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("change, needle", [
    ({"algoritms": ["vdn"]}, "did you mean 'algorithms'"),
    ({"seeds": "4-1"}, "ends before it starts"),
    ({"seeds": [0, 0]}, "repeat a seed"),
    ({"steps": 0}, "'steps' must be an integer of at least 1"),
    ({"algorithms": [{"algorithm": "vdn", "sett": {}}]}, "did you mean 'set'"),
    ({"algorithms": ["vdn", {"algorithm": "vdn"}]}, "share a name"),
    ({"envs": []}, "non-empty list"),
    ({"eval_deterministic": "no"}, "'eval_deterministic' must be true or false"),
])
def test_structural_errors_are_one_message(change, needle):
    with pytest.raises(MARLError, match=needle):
        parse_spec({**SMALLEST, **change})


def test_seed_ranges_and_named_entries():
    spec = parse_spec({**SMALLEST, "seeds": "0-4", "algorithms": [{"algorithm": "qmix", "set": {"lr": 1e-3},
                                                                   "name": "qmix-fast"}],
                       "envs": [{"env": "mpe2:simple_spread_v3", "env_kwargs": {"N": 2}}]})
    assert spec.seeds == [0, 1, 2, 3, 4] and spec.algorithms[0].name == "qmix-fast"
    assert spec.envs[0].name == "simple_spread_v3" and spec.envs[0].env_kwargs == {"N": 2}


@pytest.mark.parametrize("change, code", [
    ({"algorithms": ["vdm"]}, "unknown-algorithm"),
    ({"envs": ["matrix:climbin"]}, None),
    ({"algorithms": [{"algorithm": "vdn", "set": {"lrr": 1}}]}, "unknown-config-key"),
    ({"algorithms": [{"algorithm": "vdn", "set": {"lr": "fast"}}]}, "bad-config-value"),
    ({"algorithms": ["nash_q"], "envs": [{"env": "mpe2:simple_spread_v3", "env_kwargs": {"N": 3}}]}, "not-two-player"),
])
def test_semantic_errors_stop_the_benchmark_before_anything_runs(tmp_path, change, code):
    with pytest.raises(MARLError) as caught:
        validate(parse_spec({**SMALLEST, **change}))
    assert code is None or caught.value.code == code
    result = bench(tmp_path, write_spec(tmp_path, {**SMALLEST, **change}))
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert not (tmp_path / "bench").exists()


# --- running ----------------------------------------------------------------------------------------------


def test_the_smallest_spec_runs_skips_when_rerun_and_resumes_an_interrupted_trial(tmp_path):
    spec = write_spec(tmp_path, SMALLEST)
    result = bench(tmp_path, spec)
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert [(t["algorithm"], t["seed"], t["status"]) for t in out["trials"]] == [
        ("vdn", 0, "done"), ("vdn", 1, "done"), ("qmix", 0, "done"), ("qmix", 1, "done")]
    assert all(set(t) >= {"algorithm", "env", "seed", "status", "run_dir", "return"} for t in out["trials"])
    assert [(s["algorithm"], s["env"], s["n"]) for s in out["summary"]] == [("vdn", "climbing", 2), ("qmix", "climbing", 2)]
    for s in out["summary"]:
        returns = [t["return"] for t in out["trials"] if t["algorithm"] == s["algorithm"]]
        assert s["mean"] == pytest.approx(np.mean(returns)) and s["ci95"][0] <= s["iqm"] <= s["ci95"][1]
    assert (tmp_path / "bench" / "summary.md").read_text().count("| climbing |") == 2

    # Re-run: every trial is skipped (nothing is rewritten).
    finished = tmp_path / "bench" / "vdn" / "climbing" / "seed-0" / "eval.json"
    stamp = finished.stat().st_mtime_ns
    again = bench(tmp_path, spec)
    assert again.exit_code == 0 and json.loads(again.stdout) == out and finished.stat().st_mtime_ns == stamp

    # A trial stopped after its checkpoint but before its evaluation is resumed, not restarted.
    interrupted = tmp_path / "bench" / "qmix" / "climbing" / "seed-1"
    (interrupted / "eval.json").unlink()
    metrics = (interrupted / "metrics.csv").read_text()
    resumed = bench(tmp_path, spec)
    assert resumed.exit_code == 0 and json.loads(resumed.stdout) == out
    assert (interrupted / "metrics.csv").read_text() == metrics and finished.stat().st_mtime_ns == stamp


def test_a_failing_trial_is_recorded_and_the_others_go_on(tmp_path):
    data = {**SMALLEST, "algorithms": ["vdn"],
            "envs": ["matrix:climbing", {"env": "tests.fixtures.envs:raising_env", "env_kwargs": {"fail_at": 10},
                                         "name": "raising"}]}
    result = bench(tmp_path, write_spec(tmp_path, data))
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    status = {(t["env"], t["seed"]): t["status"] for t in out["trials"]}
    assert status == {("climbing", 0): "done", ("climbing", 1): "done", ("raising", 0): "failed", ("raising", 1): "failed"}
    failed = [t for t in out["trials"] if t["status"] == "failed"]
    assert all("the simulator lost its state" in t["error"] for t in failed)
    assert [s["env"] for s in out["summary"]] == ["climbing"]
    assert "Failed trials" in (tmp_path / "bench" / "summary.md").read_text()


def test_only_runs_a_slice_of_the_grid_and_the_rest_later(tmp_path):
    spec = write_spec(tmp_path, {**SMALLEST, "seeds": [0], "envs": ["matrix:climbing", "matrix:penalty"]})
    first = bench(tmp_path, spec, "--only", "vdn")
    assert first.exit_code == 0, first.output
    status = {(t["algorithm"], t["env"]): t["status"] for t in json.loads(first.stdout)["trials"]}
    assert status == {("vdn", "climbing"): "done", ("vdn", "penalty"): "done",
                      ("qmix", "climbing"): "pending", ("qmix", "penalty"): "pending"}
    assert [s["algorithm"] for s in json.loads(first.stdout)["summary"]] == ["vdn", "vdn"]
    assert "2 of 4 trials not finished yet" in (tmp_path / "bench" / "summary.md").read_text()
    # An algorithm and an env together: that one cell.
    cell = bench(tmp_path, spec, "--only", "qmix,penalty")
    status = {(t["algorithm"], t["env"]): t["status"] for t in json.loads(cell.stdout)["trials"]}
    assert status[("qmix", "penalty")] == "done" and status[("qmix", "climbing")] == "pending"
    finished = tmp_path / "bench" / "vdn" / "climbing" / "seed-0" / "eval.json"
    stamp = finished.stat().st_mtime_ns
    rest = bench(tmp_path, spec)
    assert rest.exit_code == 0 and {t["status"] for t in json.loads(rest.stdout)["trials"]} == {"done"}
    assert finished.stat().st_mtime_ns == stamp  # the slice already run is not run again
    assert "not finished" not in (tmp_path / "bench" / "summary.md").read_text()
    unknown = bench(tmp_path, spec, "--only", "qmx")
    assert unknown.exit_code == 2 and "qmx" in unknown.output and "did you mean 'qmix'" in unknown.output
    assert "Traceback" not in unknown.output


def test_a_spec_can_evaluate_with_sampled_actions(tmp_path):
    data = {**SMALLEST, "algorithms": ["mappo"], "seeds": [0], "eval_deterministic": False}
    result = bench(tmp_path, write_spec(tmp_path, data))
    assert result.exit_code == 0, result.output
    run_dir = tmp_path / "bench" / "mappo" / "climbing" / "seed-0"
    assert json.loads((run_dir / "eval.json").read_text())["deterministic"] is False
    assert yaml.safe_load((run_dir / "config.yaml").read_text())["eval_deterministic"] is False
    assert "sampled-action evaluation episodes" in (tmp_path / "bench" / "summary.md").read_text()


@pytest.mark.parametrize("change, why", [
    ({"steps": 400}, "steps was 300, this spec has 400"),
    ({"algorithms": [{"algorithm": "vdn", "set": {"lr": 0.001}}]}, "the algorithm entry 'vdn' was"),
    ({"envs": [{"env": "matrix:penalty", "name": "climbing"}]}, "the env entry 'climbing' was"),
])
def test_a_directory_from_a_spec_whose_shared_trials_differ_is_refused(tmp_path, change, why):
    first = {**SMALLEST, "seeds": [0], "algorithms": ["vdn"]}
    assert bench(tmp_path, write_spec(tmp_path, first)).exit_code == 0
    other = bench(tmp_path, write_spec(tmp_path, {**first, **change}, "other.yaml"))
    said = " ".join(other.output.split())
    assert other.exit_code == 2 and "different spec" in said and why in said, said
    assert yaml.safe_load((tmp_path / "bench" / "spec.yaml").read_text()) == first  # still the one that made it


@pytest.mark.parametrize("key, value", [("steps", 400), ("num_envs", 4), ("eval_episodes", 7),
                                        ("eval_deterministic", False)])
def test_every_spec_wide_setting_a_trial_runs_with_is_a_conflict(key, value):
    assert conflict(SMALLEST, {**SMALLEST, "seeds": [5]}) is None  # other seeds: the same runs
    assert conflict(SMALLEST, {**SMALLEST, key: value}).startswith(f"{key} was ")


def test_a_benchmark_grows_by_seeds_and_algorithms_and_keeps_its_finished_trials(tmp_path):
    first = {**SMALLEST, "seeds": [0], "algorithms": ["vdn"]}
    assert bench(tmp_path, write_spec(tmp_path, first)).exit_code == 0
    finished = tmp_path / "bench" / "vdn" / "climbing" / "seed-0" / "eval.json"
    stamp = finished.stat().st_mtime_ns
    grown = {**SMALLEST, "seeds": [0, 1], "algorithms": ["vdn", "iql"]}
    result = bench(tmp_path, write_spec(tmp_path, grown, "grown.yaml"))
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert [(t["algorithm"], t["seed"], t["status"]) for t in out["trials"]] == [
        ("vdn", 0, "done"), ("vdn", 1, "done"), ("iql", 0, "done"), ("iql", 1, "done")]
    assert finished.stat().st_mtime_ns == stamp  # not trained again
    assert yaml.safe_load((tmp_path / "bench" / "spec.yaml").read_text()) == grown


def test_workers_give_the_same_results_as_one_process(tmp_path):
    data = {**SMALLEST, "algorithms": ["vdn"]}
    one = bench(tmp_path / "a", write_spec(tmp_path, data))
    two = runner.invoke(app, ["benchmark", str(write_spec(tmp_path, data, "same.yaml")), "--out",
                              str(tmp_path / "b"), "--json", "--workers", "2"])
    assert one.exit_code == 0 and two.exit_code == 0, two.output
    returns = lambda r: [t["return"] for t in json.loads(r.stdout)["trials"]]
    assert returns(one) == returns(two)


def test_logged_env_steps_reads_the_last_complete_row(tmp_path):
    from algorithms.core.logger import logged_env_steps

    assert logged_env_steps(tmp_path) == 0  # no metrics.csv yet
    path = tmp_path / "metrics.csv"
    path.write_text("env_steps,episodes,charts/return_mean\n")
    assert logged_env_steps(tmp_path) == 0  # a header only
    path.write_text("env_steps,episodes,charts/return_mean\n" + "".join(f"{400 * i},{i},-1.5\n" for i in range(1, 2000)))
    assert logged_env_steps(tmp_path) == 400 * 1999  # a long file: only its tail is read
    with path.open("a") as f:
        f.write("800")  # a row the run is writing right now: not a complete row, so not read
    assert logged_env_steps(tmp_path) == 400 * 1999
    path.write_text("env_steps,episodes,charts/return_mean\n400,1,-1.5\n8")
    assert logged_env_steps(tmp_path) == 400  # progress never goes backwards to a cut-off "8"


def test_workers_report_how_far_their_trials_have_got(tmp_path, monkeypatch):
    from algorithms.training import benchmark as bench_module

    monkeypatch.setattr(bench_module, "POLL_SECONDS", 0.0)  # read every running trial's log on every wait
    # 3,200 steps: two iterations of 25 steps on VDN's 64 copies (a budget is rounded up to whole iterations)
    spec = parse_spec({**SMALLEST, "algorithms": ["vdn"], "seeds": [0, 1], "steps": 3200})
    events: list[dict] = []
    out = bench_module.run_benchmark(spec, tmp_path / "bench", workers=2, progress=events.append)
    assert [t["status"] for t in out["trials"]] == ["done", "done"]
    steps = [e["env_steps"] for e in events if e["event"] == "iteration"]
    assert steps and all(0 <= s <= 3200 for s in steps), steps


def test_the_example_spec_is_valid():

    from algorithms.training.benchmark_spec import load_spec

    examples = Path(__file__).resolve().parents[1] / "examples"
    spec = load_spec(examples / "benchmark_smallest.yaml")
    validate(spec)
    assert [a.name for a in spec.algorithms] == ["vdn", "qmix"] and spec.seeds == [0, 1]
    ppo = load_spec(examples / "benchmark_spread_ppo.yaml")  # the one docs/benchmarks.md reports
    validate(ppo)
    assert ppo.seeds == [0, 1, 2, 3, 4] and ppo.steps == 2_000_000


@pytest.mark.parametrize("name", ["benchmark_lbf.yaml", "benchmark_spread_offpolicy.yaml",
                                  "benchmark_speaker_listener.yaml"])
def test_the_long_example_specs_are_valid(name):
    """The specs docs/ points to for the long benchmarks: every algorithm builds on every env before any trial."""

    from algorithms.training.benchmark_spec import load_spec

    if name == "benchmark_lbf.yaml":
        pytest.importorskip("lbforaging")
    spec = load_spec(Path(__file__).resolve().parents[1] / "examples" / name)
    validate(spec)
    assert spec.steps == 2_000_000 and len(spec.seeds) >= 3


def test_marl_train_seeds_runs_one_benchmark_over_the_seeds(tmp_path):
    out = tmp_path / "seeds"
    argv = ["train", "vdn", "--env", "matrix:climbing", "--steps", "300", "--seeds", "0,2", "--set", "lr=0.001",
            "--out", str(out)]
    result = runner.invoke(app, argv)
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (out / "vdn" / "climbing").iterdir()) == ["seed-0", "seed-2"]
    config = yaml.safe_load((out / "vdn" / "climbing" / "seed-2" / "config.yaml").read_text())
    assert config["seed"] == 2 and config["config"]["lr"] == 0.001
    results = json.loads((out / "results.json").read_text())
    assert [t["status"] for t in results["trials"]] == ["done", "done"] and results["summary"][0]["n"] == 2
    assert Path(results["trials"][1]["run_dir"]) == Path("vdn/climbing/seed-2")  # relative: the directory can move
    assert runner.invoke(app, argv).exit_code == 0  # re-run: both seeds skipped
    bad = runner.invoke(app, ["train", "--resume", str(out), "--seeds", "0-1"])
    assert bad.exit_code == 2 and "--seeds needs ALGO" in bad.output


def test_ray_runs_each_trial_as_a_task_with_the_same_results(tmp_path):
    pytest.importorskip("ray")
    data = {**SMALLEST, "algorithms": ["vdn"]}
    local = bench(tmp_path / "a", write_spec(tmp_path, data))
    on_ray = runner.invoke(app, ["benchmark", str(write_spec(tmp_path, data, "ray.yaml")), "--out",
                                 str(tmp_path / "r"), "--json", "--ray"])
    assert local.exit_code == 0 and on_ray.exit_code == 0, on_ray.output
    trials = json.loads(on_ray.stdout)["trials"]
    assert [t["return"] for t in trials] == [t["return"] for t in json.loads(local.stdout)["trials"]]
    assert all(t["run_dir"].startswith(str((tmp_path / "r").resolve())) for t in trials)


def test_ray_options_are_checked_and_a_missing_ray_is_one_message(tmp_path, monkeypatch):
    spec = write_spec(tmp_path, {**SMALLEST, "algorithms": ["vdn"], "seeds": [0]})
    both = bench(tmp_path, spec, "--ray", "--workers", "2")
    assert both.exit_code == 2 and "--workers is for local processes" in both.output
    monkeypatch.setitem(__import__("sys").modules, "ray", None)  # as if Ray were not installed
    missing = bench(tmp_path, spec, "--ray")
    assert missing.exit_code == 2 and "marl-advisor[ray]" in missing.output and "Traceback" not in missing.output


# --- reports ----------------------------------------------------------------------------------------------


def test_probability_of_improvement_and_performance_profile():
    from algorithms.core.statistics import performance_profile, probability_of_improvement

    assert probability_of_improvement([3, 4], [1, 2]) == 1.0
    assert probability_of_improvement([1, 2], [3, 4]) == 0.0
    assert probability_of_improvement([1, 3], [2, 2]) == 0.5 and probability_of_improvement([2], [2]) == 0.5
    assert performance_profile([0.1, 0.5, 0.9, 1.0], [0.0, 0.5, 0.95]).tolist() == [1.0, 0.5, 0.25]


def test_stratified_bootstrap_keeps_every_task_in_every_draw():
    from algorithms.core.statistics import stratified_bootstrap_ci

    # Two tasks of very different sizes: pooled resampling can draw a sample of only the 8 easy runs' scores;
    # resampling within each task keeps the hard task's two runs (score 0) in every draw.
    easy, hard = [1.0] * 8, [0.0, 0.0]
    lo, hi = stratified_bootstrap_ci([easy, hard], np.mean)
    assert lo == hi == pytest.approx(0.8)
    pooled = bootstrap_ci(easy + hard, np.mean)
    assert pooled[0] < 0.7 and pooled[1] > 0.9  # the unstratified interval wanders with the task mix
    spread = stratified_bootstrap_ci([[0.1, 0.5, 0.9, 0.3], [0.2, 0.8, 0.6, 0.4]])
    assert spread[0] < 0.5 < spread[1]


def test_benchmark_writes_a_report_and_marl_report_reads_any_run_directories(tmp_path):
    result = bench(tmp_path, write_spec(tmp_path, {**SMALLEST, "seeds": [0, 1]}))
    assert result.exit_code == 0, result.output
    report_dir = tmp_path / "bench" / "report"
    assert {p.name for p in report_dir.iterdir()} == {"report.json", "report.md", "curves.png", "profile.png"}
    assert (report_dir / "curves.png").read_bytes()[:4] == b"\x89PNG"
    # Known returns in the runs' eval.json: qmix [2, 5] against vdn [1, 3], so P(qmix beats vdn) is 3 of the
    # 4 pairs (2 > 1, 2 < 3, 5 > 1, 5 > 3); and vdn [3, 3] against qmix [3, 3] a tie, 0.5.
    def set_returns(returns):
        for (algo, seed), value in returns.items():
            path = tmp_path / "bench" / algo / "climbing" / f"seed-{seed}" / "eval.json"
            evaluation = json.loads(path.read_text())
            path.write_text(json.dumps({**evaluation, "return_mean": value}))
    set_returns({("qmix", 0): 2.0, ("qmix", 1): 5.0, ("vdn", 0): 1.0, ("vdn", 1): 3.0})
    again = runner.invoke(app, ["report", str(tmp_path / "bench"), "--out", str(tmp_path / "rep"), "--json"])
    assert again.exit_code == 0, again.output
    data = json.loads(again.stdout)
    assert sorted((s["algorithm"], s["n"], s["iqm"]) for s in data["summary"]) == [("qmix", 2, 3.5), ("vdn", 2, 2.0)]
    (pair,) = data["probability_of_improvement"]
    assert (pair["x"], pair["y"], pair["p_x_beats_y"], pair["envs"]) == ("qmix", "vdn", 0.75, 1)
    set_returns({("qmix", 0): 3.0, ("qmix", 1): 3.0, ("vdn", 0): 3.0, ("vdn", 1): 3.0})
    tie = runner.invoke(app, ["report", str(tmp_path / "bench"), "--out", str(tmp_path / "tie"), "--json"])
    assert tie.exit_code == 0 and json.loads(tie.stdout)["probability_of_improvement"][0]["p_x_beats_y"] == 0.5
    assert set(data["performance_profile"]["fraction_above"]) == {"qmix", "vdn"}
    for row in data["aggregate"]:  # one env: the normalised IQM sits inside its interval
        assert row["envs"] == 1 and row["ci95"][0] <= row["iqm"] <= row["ci95"][1]
    assert "stratified bootstrap" in (tmp_path / "rep" / "report.md").read_text()
    missing = runner.invoke(app, ["report", str(tmp_path / "nothing-here")])
    assert missing.exit_code == 2 and "does not exist" in missing.output


@pytest.mark.slow
def test_a_killed_benchmark_resumes_to_the_same_results(tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time

    data = {**SMALLEST, "algorithms": ["vdn"], "seeds": [0, 1], "steps": 3000}
    whole = bench(tmp_path / "whole", write_spec(tmp_path, data))
    assert whole.exit_code == 0, whole.output
    spec = write_spec(tmp_path, data, "killed.yaml")
    root = tmp_path / "killed"
    command = [sys.executable, "-m", "advisor.cli", "benchmark", str(spec), "--out", str(root), "--json"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 120
    second = root / "vdn" / "climbing" / "seed-1" / "metrics.csv"
    while not second.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)  # kill while the second trial is under way
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    assert not (root / "vdn" / "climbing" / "seed-1" / "eval.json").exists()
    resumed = runner.invoke(app, ["benchmark", str(spec), "--out", str(root), "--json"])
    assert resumed.exit_code == 0, resumed.output
    returns = lambda out: [t["return"] for t in out["trials"]]
    assert returns(json.loads(resumed.stdout)) == returns(json.loads(whole.stdout))


def test_ctrl_c_in_benchmark_or_train_seeds_says_how_to_resume_and_exits_130(tmp_path, monkeypatch):
    import advisor.commands.benchmark_cmd as benchmark_cmd

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(benchmark_cmd, "_run_with_progress", interrupted)
    spec = write_spec(tmp_path, {**SMALLEST, "algorithms": ["vdn"]})
    bench_run = runner.invoke(app, ["benchmark", str(spec), "--out", str(tmp_path / "b"), "--only", "vdn"])
    seeds_run = runner.invoke(app, ["train", "vdn", "--env", "matrix:climbing", "--steps", "300", "--seeds", "0-1",
                                    "--out", str(tmp_path / "s")])
    for result, kept, resume in ((bench_run, "trials", "--only vdn`"), (seeds_run, "seeds", "under")):
        said = " ".join(result.output.split())
        assert result.exit_code == 130 and f"finished {kept} are kept" in said and resume in said, said
        assert "Traceback" not in result.output
