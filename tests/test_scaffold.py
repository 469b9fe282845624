"""`marl scaffold` and `marl advise --scaffold`: the starter project runs, and bad requests write nothing."""
import dataclasses
import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from advisor.cli import app
from algorithms import ALGORITHMS

runner = CliRunner()


# Algorithms that need a two-player game get one; every other algorithm scaffolds on simple_spread.
TWO_PLAYER_ENVS = {"self_play": "pettingzoo.classic:tictactoe_v3", "nash_q": "grid:game2"}


def _env_for(algo: str) -> list[str]:
    if algo in TWO_PLAYER_ENVS:
        return ["--env", TWO_PLAYER_ENVS[algo]]
    if "discrete" in ALGORITHMS[algo].config_cls.action_spaces:
        return ["--env", "mpe2:simple_spread_v3"]
    return ["--env", "mpe2:simple_spread_v3", "--env-kwarg", "continuous_actions=true"]


FAST = ("mappo", "qmix")  # the fast tier scaffolds these; the slow tier every algorithm


@pytest.mark.parametrize("algo", [a if a in FAST else pytest.param(a, marks=pytest.mark.slow) for a in sorted(ALGORITHMS)])
def test_scaffolded_project_trains_and_its_run_dir_is_usable(algo, tmp_path):
    project = tmp_path / "project"
    result = runner.invoke(app, ["scaffold", algo, *_env_for(algo), "--out", str(project)])
    assert result.exit_code == 0, result.output
    train_py = (project / "train.py").read_text()
    fields = [f.name for f in dataclasses.fields(ALGORITHMS[algo].config_cls)]
    assert all(f"    {name}=" in train_py for name in fields)  # every field spelled out, with its docstring above
    assert (project / "README.md").read_text().startswith(f"# {algo} on {_env_for(algo)[1]}")
    run = tmp_path / "run"
    done = subprocess.run([sys.executable, "train.py", "--steps", "200", "--num-envs", "2", "--eval-episodes", "2",
                           "--out", str(run)], cwd=project, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    evaluated = runner.invoke(app, ["eval", str(run), "--episodes", "2", "--json"])
    assert evaluated.exit_code == 0 and json.loads(evaluated.output)["algo"] == algo
    plotted = runner.invoke(app, ["plot", str(run), "--metric", "env_steps", "--out", str(tmp_path / "c.png")])
    assert plotted.exit_code == 0, plotted.output


def test_the_generated_smoke_test_passes(tmp_path):
    project = tmp_path / "project"
    assert runner.invoke(app, ["scaffold", "mappo", "--env", "mpe2:simple_spread_v3", "--out", str(project)]).exit_code == 0
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "tests"], cwd=project, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0 and "1 passed" in done.stdout, done.stdout + done.stderr


@pytest.mark.parametrize("args, needle", [
    (["scaffold", "qmix", "--env", "mpe2:simple_spread_v3", "--env-kwarg", "continuous_actions=true"],
     "unsupported-action-space"),
    (["scaffold", "qmx", "--env", "mpe2:simple_spread_v3"], "did you mean 'qmix'"),
    (["scaffold", "mappo", "--env", "mpe2:nope_v1"], "unknown-env"),
    (["scaffold", "mappo", "--env", "mpe2:simple_spread_v3", "--set", "nope=1"], "unknown-config-key"),
])
def test_bad_requests_write_nothing(args, needle, tmp_path):
    out = tmp_path / "project"
    result = runner.invoke(app, [*args, "--out", str(out)])
    assert result.exit_code == 2 and needle in result.output, result.output
    assert not out.exists()


def test_refuses_a_non_empty_directory_without_force(tmp_path):
    out = tmp_path / "project"
    out.mkdir()
    (out / "mine.py").write_text("keep")
    args = ["scaffold", "mappo", "--env", "mpe2:simple_spread_v3", "--out", str(out)]
    result = runner.invoke(app, args)
    assert result.exit_code == 2 and "not empty" in " ".join(result.output.split())
    assert [p.name for p in out.iterdir()] == ["mine.py"]
    assert runner.invoke(app, [*args, "--force"]).exit_code == 0
    assert (out / "train.py").is_file() and (out / "mine.py").read_text() == "keep"


QMIX_FLAGS = ["--multiple-learners", "--interdependent", "--reward-structure", "cooperative", "--coordination",
              "--n-agents", "3", "--action-space", "discrete", "--observability", "full",
              "--centralized-training", "--no-communication", "--no-nonmonotonic", "--sample-budget", "expensive"]


def test_advise_scaffolds_the_recommendation_with_its_pitfalls(tmp_path):
    out = tmp_path / "project"
    result = runner.invoke(app, ["advise", *QMIX_FLAGS, "--env", "mpe2:simple_spread_v3", "--scaffold", str(out)])
    assert result.exit_code == 0, result.output
    assert "from algorithms.value_config import QMIXConfig" in (out / "train.py").read_text()
    readme = (out / "README.md").read_text()
    assert "## Pitfalls that apply" in readme and "- **" in readme  # the advice's pitfalls, not the placeholder
    missing_env = runner.invoke(app, ["advise", *QMIX_FLAGS, "--scaffold", str(tmp_path / "other")])
    assert missing_env.exit_code == 2 and "scaffold-needs-env" in missing_env.output


@pytest.mark.parametrize("algo", ["qmix", pytest.param("mappo", marks=pytest.mark.slow),
                                  pytest.param("ippo", marks=pytest.mark.slow)])
def test_standalone_project_needs_nothing_from_this_package(algo, tmp_path):
    from advisor.scaffold import STANDALONE, TEMPLATES

    if not (TEMPLATES / f"{STANDALONE[algo][0]}.tmpl").exists():
        pytest.fail(f"standalone template for {algo} missing")
    project = tmp_path / "project"
    result = runner.invoke(app, ["scaffold", algo, "--env", "mpe2:simple_spread_v3", "--out", str(project), "--standalone"])
    assert result.exit_code == 0, result.output
    text = (project / "train.py").read_text()
    assert "from algorithms" not in text and "import algorithms" not in text and "advisor" not in text
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "tests"], cwd=project, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0 and "1 passed" in done.stdout, done.stdout + done.stderr


def test_standalone_is_refused_where_it_does_not_exist(tmp_path):
    result = runner.invoke(app, ["scaffold", "maddpg", "--env", "mpe2:simple_spread_v3", "--env-kwarg",
                                 "continuous_actions=true", "--out", str(tmp_path / "p"), "--standalone"])
    assert result.exit_code == 2 and "no-standalone" in result.output and not (tmp_path / "p").exists()
