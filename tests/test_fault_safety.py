"""Bad input and interruptions end in one clear message, with nothing lost: env keyword checks, files that are
not text, output paths checked before work, checkpoints on time with a fallback, a run restarted when it never
checkpointed, TensorBoard without replayed steps, file modes, and the one boundary around every command."""
from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from advisor.cli import app
from algorithms.core.env_registry import make_env
from algorithms.errors import MARLError
from algorithms.training.run import RunSpec, Trainer

runner = CliRunner()
SPREAD = "mpe2:simple_spread_v3"
SMALL = ["--num-envs", "2", "--eval-episodes", "2", "--set", "rollout_steps=25", "--set", "epochs=1"]


def _error(result, code: str, exit_code: int = 2) -> str:
    assert result.exit_code == exit_code, result.output
    assert f"[{code}]" in result.output and "Traceback" not in result.output, result.output
    return result.output


# ------------------------------------------------------------------ env keyword arguments and names


@pytest.mark.parametrize("kwargs, code, needle", [
    ({"continuous_actions": "flase"}, "bad-env-kwarg", "true or false"),
    ({"Nn": 3}, "bad-env-kwarg", "did you mean 'N'"),
    ({"N": 2.5}, "bad-env-kwarg", "an integer"),
    ({"N": -1}, "env-failed", "ValueError"),
])
def test_env_keyword_arguments_are_checked_against_the_env(kwargs, code, needle):
    with pytest.raises(MARLError) as err:
        make_env(SPREAD, kwargs)
    assert err.value.code == code and needle in str(err.value)


def test_env_keyword_checks_accept_what_the_env_takes():
    env = make_env(SPREAD, {"N": 2, "local_ratio": 1, "continuous_actions": True})
    assert len(env.possible_agents) == 2


@pytest.mark.parametrize("env, close", [("mpe2:simple_sprad_v3", "simple_spread_v3"),
                                        ("pettingzoo.classic:tictactoe_v9", "tictactoe_v3")])
def test_misspelt_env_modules_get_a_did_you_mean(env, close):
    with pytest.raises(MARLError) as err:
        make_env(env)
    assert f"did you mean '{close}'" in str(err.value)


def test_cli_refuses_a_mistyped_bool_before_training(tmp_path):
    out = _error(runner.invoke(app, ["train", "mappo", "--env", SPREAD, "--env-kwarg", "continuous_actions=flase",
                                     "--out", str(tmp_path / "run")]), "bad-env-kwarg")
    assert "true or false" in out and not (tmp_path / "run").exists()


# ------------------------------------------------------------------ files that are not text, output paths


def test_binary_answers_and_config_files_get_one_message(tmp_path):
    junk = tmp_path / "junk.yaml"
    junk.write_bytes(bytes(range(256)))
    _error(runner.invoke(app, ["advise", "--answers", str(junk)]), "bad-answers-file")
    _error(runner.invoke(app, ["train", "mappo", "--env", SPREAD, "--config", str(junk),
                               "--out", str(tmp_path / "run")]), "bad-config-file")
    assert not (tmp_path / "run").exists()


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("runs") / "run"
    result = runner.invoke(app, ["train", "iql", "--env", "matrix:climbing", "--steps", "40", "--num-envs", "2",
                                 "--eval-episodes", "2", "--set", "batch_size=2", "--out", str(run)])
    assert result.exit_code == 0, result.output
    return run


def test_output_paths_are_checked_before_any_work(run_dir, tmp_path):
    _error(runner.invoke(app, ["eval", str(run_dir), "--render", str(tmp_path / "ep.mp4")]), "bad-output")
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    _error(runner.invoke(app, ["eval", str(run_dir), "--render", str(blocker / "ep.gif")]), "bad-output")
    _error(runner.invoke(app, ["plot", str(run_dir), "--out", str(blocker / "c.png")]), "bad-output")
    assert blocker.read_text() == ""


def test_files_a_run_writes_follow_the_umask(run_dir):
    expected = 0o666 & ~_umask()
    for name in ("config.yaml", "eval.json", "checkpoints/latest.pt"):
        assert stat.S_IMODE((run_dir / name).stat().st_mode) == expected, name


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# ------------------------------------------------------------------ checkpoints: on time, fallback, restart


def _spec(steps: int, **extra) -> RunSpec:
    return RunSpec("mappo", SPREAD, {"max_cycles": 10}, steps=steps, seed=1, num_envs=2, device="cpu",
                   checkpoint_every=10**9, eval_episodes=1, config={"rollout_steps": 10, "epochs": 1}, **extra)


def test_checkpoints_are_written_on_time_and_the_previous_one_is_kept(tmp_path):
    Trainer.create(_spec(60, checkpoint_seconds=0.0), tmp_path / "run").train()
    checkpoints = tmp_path / "run" / "checkpoints"
    assert (checkpoints / "latest.pt").is_file() and (checkpoints / "previous.pt").is_file()


def test_a_damaged_latest_checkpoint_falls_back_to_the_previous_one(tmp_path):
    run = tmp_path / "run"
    Trainer.create(_spec(40, checkpoint_seconds=0.0), run).train()
    Trainer.create(_spec(60), tmp_path / "straight").train()
    (run / "checkpoints" / "latest.pt").write_bytes(b"damaged")
    result = runner.invoke(app, ["train", "--resume", str(run), "--steps", "60"])
    assert result.exit_code == 0, result.output
    assert "previous.pt" in result.output
    assert (run / "metrics.csv").read_text() == (tmp_path / "straight" / "metrics.csv").read_text()


def test_a_run_killed_before_its_first_checkpoint_starts_again_in_place(tmp_path):
    run = tmp_path / "run"
    trainer = Trainer.create(_spec(40), run)  # config.yaml written; then "killed": no checkpoint, a partial log
    (run / "metrics.csv").write_text("env_steps\n20\n")
    del trainer
    result = runner.invoke(app, ["train", "--resume", str(run)])
    assert result.exit_code == 0, result.output
    assert "starting it again from step 0" in " ".join(result.output.split())  # however the console wrapped it
    Trainer.create(_spec(40), tmp_path / "straight").train()
    assert (run / "metrics.csv").read_text() == (tmp_path / "straight" / "metrics.csv").read_text()


def test_resume_drops_tensorboard_events_logged_after_the_checkpoint(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run = tmp_path / "run"
    Trainer.create(_spec(40), run).train()  # checkpoint at 40 (the end)
    ckpt = (run / "checkpoints" / "latest.pt").read_bytes()
    Trainer.resume(run, 80).train()          # logs 60 and 80, then "dies": put the step-40 checkpoint back
    (run / "checkpoints" / "latest.pt").write_bytes(ckpt)
    Trainer.resume(run, 80).train()
    events = EventAccumulator(str(run / "tensorboard")).Reload()
    steps = [e.step for e in events.Scalars("env_steps")]
    assert steps == sorted(set(steps)) == [20, 40, 60, 80]


# ------------------------------------------------------------------ one boundary around every command


def test_an_env_that_raises_mid_training_gets_one_message_and_exit_1(tmp_path):
    result = runner.invoke(app, ["train", "mappo", "--env", "tests.fixtures.envs:raising_env", *SMALL,
                                 "--steps", "200", "--out", str(tmp_path / "run")])
    out = _error(result, "env-raised", exit_code=1)
    # One message naming the env, the method and the step; the hint says what is kept.
    assert "tests.fixtures.envs:raising_env" in out and "in step() at step" in out and "RuntimeError" in out
    assert "--debug" in out and ("checkpoint" in out)


def test_debug_shows_the_traceback(tmp_path):
    result = runner.invoke(app, ["--debug", "train", "mappo", "--env", "tests.fixtures.envs:raising_env", *SMALL,
                                 "--steps", "200", "--out", str(tmp_path / "run")])
    assert result.exit_code != 0 and isinstance(result.exception.__cause__, RuntimeError)


# ------------------------------------------------------------------ smaller things


def test_a_budget_that_ends_before_learning_starts_is_said(tmp_path):
    result = runner.invoke(app, ["train", "maddpg", "--env", SPREAD, "--env-kwarg", "continuous_actions=true",
                                 "--steps", "100", "--num-envs", "2", "--eval-episodes", "1",
                                 "--out", str(tmp_path / "run")])
    assert result.exit_code == 0, result.output
    assert "ends before maddpg starts learning" in result.output


def test_answers_take_unambiguous_prefixes_and_say_when_one_is_ambiguous():
    from advisor.ruleset import load_ruleset

    fact = load_ruleset().facts["reward_structure"]
    assert fact.parse("coop", "test") == "cooperative"
    with pytest.raises(MARLError):
        fact.parse("zzz", "test")


def test_scaffold_prints_a_next_command_that_works_without_an_active_venv(tmp_path):
    import sys

    result = runner.invoke(app, ["scaffold", "mappo", "--env", SPREAD, "--out", str(tmp_path / "p")])
    assert result.exit_code == 0, result.output
    assert f"{sys.executable} train.py" in result.output


def test_a_checkpoint_from_another_run_is_refused_and_left_alone(tmp_path):
    Trainer.create(_spec(20), tmp_path / "mappo").train()
    iql = RunSpec("iql", "matrix:climbing", {}, steps=20, seed=0, num_envs=2, device="cpu", eval_episodes=1,
                  config={"batch_size": 2})
    Trainer.create(iql, tmp_path / "iql").train()
    foreign = (tmp_path / "mappo" / "checkpoints" / "latest.pt").read_bytes()
    (tmp_path / "iql" / "checkpoints" / "latest.pt").write_bytes(foreign)
    (tmp_path / "iql" / "checkpoints" / "previous.pt").unlink(missing_ok=True)
    _error(runner.invoke(app, ["train", "--resume", str(tmp_path / "iql"), "--steps", "40"]), "incompatible-checkpoint")
    _error(runner.invoke(app, ["eval", str(tmp_path / "iql")]), "incompatible-checkpoint")
    assert (tmp_path / "iql" / "checkpoints" / "latest.pt").read_bytes() == foreign
