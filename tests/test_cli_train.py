"""`marl train`, `marl eval`, `marl algorithms` through typer's CliRunner and real subprocesses."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from advisor.cli import app
from algorithms.core.checkpoint import load_checkpoint

runner = CliRunner()
SMALL = ["--env", "mpe2:simple_spread_v3", "--num-envs", "2", "--set", "rollout_steps=25", "--set", "epochs=2",
         "--eval-episodes", "2"]


def _train(tmp_path: Path, name: str, *extra: str):
    return runner.invoke(app, ["train", "mappo", *SMALL, "--steps", "200", "--out", str(tmp_path / name), *extra])


def _one_clear_error(result, *needles):
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and result.exception is None or isinstance(result.exception, SystemExit)
    for needle in needles:
        assert needle in result.output, result.output


def test_train_writes_a_complete_run_dir_and_eval_reads_it(tmp_path):
    result = _train(tmp_path, "run")
    assert result.exit_code == 0, result.output
    run = tmp_path / "run"
    for name in ("config.yaml", "metrics.csv", "timing.csv", "eval.json", "checkpoints/latest.pt"):
        assert (run / name).is_file(), name
    assert list((run / "tensorboard").glob("events.out.tfevents.*"))
    assert json.loads((run / "eval.json").read_text())["episodes"] == 2
    out = runner.invoke(app, ["eval", str(run), "--episodes", "4", "--json", "--stochastic"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    assert data["episodes"] == 4 and set(data["per_agent"]) == {"agent_0", "agent_1", "agent_2"}
    assert not data["deterministic"] and data["env_steps"] == 200


def test_eval_renders_a_gif(tmp_path):
    assert _train(tmp_path, "run").exit_code == 0
    gif = tmp_path / "episode.gif"
    out = runner.invoke(app, ["eval", str(tmp_path / "run"), "--episodes", "1", "--render", str(gif)])
    assert out.exit_code == 0, out.output
    assert gif.read_bytes()[:6] in (b"GIF87a", b"GIF89a")


def test_same_seed_same_metrics_csv(tmp_path):
    assert _train(tmp_path, "a", "--seed", "5").exit_code == 0
    assert _train(tmp_path, "b", "--seed", "5").exit_code == 0
    assert _train(tmp_path, "c", "--seed", "6").exit_code == 0
    a, b, c = ((tmp_path / n / "metrics.csv").read_text() for n in "abc")
    assert a == b
    assert a != c


def test_algorithms_lists_capabilities():
    out = runner.invoke(app, ["algorithms", "--json"])
    rows = {r["id"]: r for r in json.loads(out.output)}
    assert rows["mappo"]["needs_state"] and not rows["ippo"]["needs_state"]
    assert rows["mappo"]["action_spaces"] == ["continuous", "discrete", "multi_discrete"]


@pytest.mark.parametrize("args, needles", [
    (["train", "mappo", "--env", "mpe2:no_such_env_v1"], ["unknown-env", "no_such_env_v1"]),
    (["train", "mappo", "--env", "nosuchpkg:env"], ["unknown-env", "nosuchpkg"]),
    (["train", "mapo", "--env", "mpe2:simple_spread_v3"], ["unknown-algorithm", "did you mean 'mappo'"]),
    (["train", "mappo", "--env", "mpe2:simple_spread_v3", "--set", "learning_rate=1"], ["unknown-config-key", "valid keys"]),
    (["train", "mappo", "--env", "mpe2:simple_spread_v3", "--set", "epochs=lots"], ["bad-config-value", "epochs"]),
    (["train", "mappo", "--env", "mpe2:simple_spread_v3", "--set", "epochs"], ["bad-set"]),
    (["train", "mappo", "--env", "mpe2:simple_spread_v3", "--env-kwarg", "bogus=1"], ["bad-env-kwarg"]),
    (["train", "mappo", "--env", "mpe2:simple_spread_v3", "--device", "tpu"], ["bad-device"]),
    (["train", "mappo"], ["missing-argument"]),
    (["eval", "/nonexistent/run"], ["missing-run-dir"]),
])
def test_bad_input_gives_one_clear_message(args, needles):
    _one_clear_error(runner.invoke(app, args), *needles)


def test_existing_run_dir_is_never_overwritten(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "precious.txt").write_text("keep me")
    _one_clear_error(_train(tmp_path, "run"), "run-dir-exists")
    assert [p.name for p in run.iterdir()] == ["precious.txt"]


def test_bad_request_leaves_no_run_dir(tmp_path):
    result = runner.invoke(app, ["train", "mappo", "--env", "mpe2:simple_spread_v3", "--set", "nope=1",
                                 "--out", str(tmp_path / "run")])
    _one_clear_error(result, "unknown-config-key")
    assert not (tmp_path / "run").exists()


def test_corrupt_checkpoint_and_run_dir(tmp_path):
    assert _train(tmp_path, "run").exit_code == 0
    run = tmp_path / "run"
    ckpt = run / "checkpoints" / "latest.pt"
    ckpt.write_bytes(ckpt.read_bytes()[:100])  # a torn write
    metrics_before = (run / "metrics.csv").read_text()
    _one_clear_error(runner.invoke(app, ["eval", str(run)]), "corrupt-checkpoint")
    _one_clear_error(runner.invoke(app, ["train", "--resume", str(run)]), "corrupt-checkpoint")
    assert (run / "metrics.csv").read_text() == metrics_before  # nothing saved was touched
    (run / "config.yaml").write_text("algo: [unclosed")
    _one_clear_error(runner.invoke(app, ["eval", str(run)]), "corrupt-run-dir")
    empty = tmp_path / "empty"
    empty.mkdir()
    _one_clear_error(runner.invoke(app, ["eval", str(empty)]), "not-a-run-dir")


@pytest.mark.slow  # kills a real training process: about 25 s
def test_killed_run_resumes_to_the_same_result(tmp_path):
    """SIGKILL a real training process after its first checkpoint, resume it, and compare with a run
    that was never interrupted: the env copies and RNGs are restored, so the metrics match exactly.
    Every run is a subprocess with the same thread count (float sums depend on it)."""
    args = ["train", "mappo", *SMALL, "--steps", "6000", "--seed", "3", "--checkpoint-every", "500"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}

    def marl(*extra: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "advisor.cli", *extra], capture_output=True, text=True,
                              env=env, timeout=300)

    killed = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, "-m", "advisor.cli", *args, "--out", str(killed)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    ckpt = killed / "checkpoints" / "latest.pt"
    deadline = time.time() + 120
    while not ckpt.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert ckpt.exists(), proc.stderr.read().decode()
    assert not (killed / "eval.json").exists(), "the run finished before it could be killed"
    steps_at_kill = load_checkpoint(ckpt)["algorithm"]["counters"]["env_steps"]
    assert 0 < steps_at_kill < 6000

    resumed = marl("train", "--resume", str(killed))
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "env state restored" in resumed.stdout
    assert load_checkpoint(ckpt)["algorithm"]["counters"]["env_steps"] == 6000
    straight = marl(*args, "--out", str(tmp_path / "straight"))
    assert straight.returncode == 0, straight.stdout + straight.stderr
    assert (killed / "metrics.csv").read_text() == (tmp_path / "straight" / "metrics.csv").read_text()
    out = runner.invoke(app, ["eval", str(killed), "--episodes", "2", "--json"])
    assert out.exit_code == 0 and json.loads(out.output)["env_steps"] == 6000


def test_a_run_resumed_twice_still_matches_an_uninterrupted_one(tmp_path):
    """Each resume must checkpoint the env copies again (mpe2's close() once broke their fonts)."""
    from algorithms.training.run import RunSpec, Trainer

    def spec(steps):
        return RunSpec("mappo", "mpe2:simple_spread_v3", {}, steps=steps, seed=2, num_envs=2, device="cpu",
                       checkpoint_every=10**9, eval_episodes=2, config={"rollout_steps": 25, "epochs": 2})

    Trainer.create(spec(300), tmp_path / "pieces").train()
    for steps in (600, 900):
        resumed = Trainer.resume(tmp_path / "pieces", steps)
        assert resumed.env_restored
        resumed.train()
    Trainer.create(spec(900), tmp_path / "straight").train()
    assert (tmp_path / "pieces" / "metrics.csv").read_text() == (tmp_path / "straight" / "metrics.csv").read_text()


def test_num_envs_defaults_to_the_algorithms_choice_for_the_backend(tmp_path):
    """MAPPO: 128 copies on the batched MPE backend, 16 on PettingZoo copies; saved so a resume keeps it."""
    import yaml

    for env, expected in (("batched:simple_spread_v3", 128), ("mpe2:simple_spread_v3", 16)):
        out = tmp_path / env.split(":")[0]
        result = runner.invoke(app, ["train", "mappo", "--env", env, "--steps", "1", "--set", "rollout_steps=1",
                                     "--set", "epochs=1", "--eval-episodes", "1", "--out", str(out)])
        assert result.exit_code == 0, result.output
        assert yaml.safe_load((out / "config.yaml").read_text())["num_envs"] == expected


@pytest.mark.parametrize("flag", ["--num-envs", "--steps"])
def test_zero_copies_or_steps_is_an_error_not_a_default(tmp_path, flag):
    result = runner.invoke(app, ["train", "mappo", *SMALL, flag, "0", "--out", str(tmp_path / "run")])
    _one_clear_error(result, f"{flag} must be at least 1, got 0")
    assert not (tmp_path / "run").exists()


def test_train_and_eval_report_random_and_do_nothing_play_on_the_same_episodes(tmp_path):
    result = _train(tmp_path, "run")
    assert result.exit_code == 0, result.output
    refs = json.loads((tmp_path / "run" / "eval.json").read_text())["references"]
    assert set(refs) == {"random", "noop"} and refs["random"]["mean"] < 0 and refs["noop"]["mean"] < 0
    assert "random play" in result.output and "doing nothing" in result.output
    out = runner.invoke(app, ["eval", str(tmp_path / "run"), "--episodes", "4", "--json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    assert set(data["references"]) == {"random", "noop"}
    assert set(data["references"]["random"]["per_agent"]) == {"agent_0", "agent_1", "agent_2"}


def test_a_policy_that_does_not_beat_random_play_is_warned_about(tmp_path):
    from algorithms.training.evaluate import beats_random

    worse = {"return_mean": -30.0, "per_agent": {"a": {"mean": -31.0}, "b": {"mean": -29.0}},
             "references": {"random": {"mean": -27.0, "per_agent": {"a": -27.0, "b": -27.0}}}}
    assert beats_random(worse) is False
    one_side = {**worse, "per_agent": {"a": {"mean": -20.0}, "b": {"mean": -40.0}}}  # a mixed game's winner
    assert beats_random(one_side) is True
    assert beats_random({"return_mean": 0.0, "per_agent": {}}) is None  # no references: no verdict


def test_eval_stochastic_changes_only_the_final_evaluation(tmp_path):
    import yaml

    greedy, sampled = _train(tmp_path, "greedy"), _train(tmp_path, "sampled", "--eval-stochastic")
    assert greedy.exit_code == 0 and sampled.exit_code == 0, sampled.output
    assert (tmp_path / "greedy" / "metrics.csv").read_text() == (tmp_path / "sampled" / "metrics.csv").read_text()
    evals = {name: json.loads((tmp_path / name / "eval.json").read_text()) for name in ("greedy", "sampled")}
    assert evals["greedy"]["deterministic"] and not evals["sampled"]["deterministic"]
    assert evals["greedy"]["return_mean"] != evals["sampled"]["return_mean"]
    assert yaml.safe_load((tmp_path / "sampled" / "config.yaml").read_text())["eval_deterministic"] is False
    for name, greedy_default in (("greedy", True), ("sampled", False)):  # marl eval plays as the run was evaluated
        again = runner.invoke(app, ["eval", str(tmp_path / name), "--episodes", "2", "--json"])
        assert again.exit_code == 0 and json.loads(again.output)["deterministic"] is greedy_default, again.output
    refused = runner.invoke(app, ["train", "--resume", str(tmp_path / "sampled"), "--eval-stochastic"])
    _one_clear_error(refused, "--eval-stochastic")
    bad = tmp_path / "bad.yaml"
    bad.write_text("algo: mappo\nenv: mpe2:simple_spread_v3\neval_deterministic: sometimes\n")
    _one_clear_error(runner.invoke(app, ["train", "--config", str(bad)]), "'eval_deterministic'", "got 'sometimes'")


def test_a_run_saved_before_the_activation_field_resumes_with_relu(tmp_path):
    """Run dirs from before `activation` existed ran ReLU networks; they must not come back as tanh."""
    import torch
    import yaml

    from algorithms.training.run import load_for_eval

    assert _train(tmp_path, "run").exit_code == 0
    path = tmp_path / "run" / "config.yaml"
    raw = yaml.safe_load(path.read_text())
    assert raw["config"].pop("activation") == "tanh"  # today's default, as saved
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    _, algo = load_for_eval(tmp_path / "run")
    assert algo.config.activation == "relu"
    assert any(isinstance(m, torch.nn.ReLU) for m in algo.actor.modules())


def test_eval_reads_a_policy_file_saved_through_the_python_api(tmp_path):
    import algorithms

    algo = algorithms.make("iql", "matrix:climbing", num_envs=2, seed=0, batch_size=2)
    algo.learn(40)
    algo.save(tmp_path / "policy.pt")
    result = runner.invoke(app, ["eval", str(tmp_path / "policy.pt"), "--episodes", "4", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["algo"] == "iql" and report["env"] == "matrix:climbing" and report["env_steps"] == algo.env_steps
    missing = runner.invoke(app, ["eval", str(tmp_path / "nothing.pt")])
    assert missing.exit_code == 2 and "no run directory or policy file" in missing.output


def test_help_shows_the_defaults_written_in_brackets():
    """rich reads '[default: 100000]' as a markup tag and drops it unless the bracket is escaped."""
    def text(command: str) -> str:  # the help's words, without the box drawing and line wrapping
        output = runner.invoke(app, [command, "--help"]).output
        return " ".join(output.replace("│", " ").split())

    assert "[default: 100000]" in text("train") and "[default: the algorithm's measured choice" in text("train")
    assert "[default: as the run's own evaluation" in text("eval")
