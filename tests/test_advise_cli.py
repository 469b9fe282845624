"""`marl advise` and `marl rules` through typer's CliRunner: flags, answers files, prompts, --json, errors."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from advisor.cli import app
from advisor.ruleset import RULE_FILES, default_rules_dir, load_ruleset

runner = CliRunner()

QMIX_FLAGS = ["--multiple-learners", "--interdependent", "--reward-structure", "cooperative", "--coordination",
              "--n-agents", "5", "--action-space", "discrete", "--observability", "full",
              "--centralized-training", "--no-communication", "--no-nonmonotonic", "--sample-budget", "expensive"]
MAPPO_FLAGS = ["--multiple-learners", "--interdependent", "--reward-structure", "cooperative", "--coordination",
               "--n-agents", "3", "--action-space", "continuous", "--observability", "full",
               "--centralized-training", "--no-communication", "--sample-budget", "cheap"]


def flat(text: str) -> str:
    """Rich wraps long lines at 80 columns; compare with whitespace collapsed."""
    return " ".join(text.split())


def advise(*args: str, input: str | None = None):
    return runner.invoke(app, ["advise", *args], input=input)


def test_every_fact_has_a_flag():
    command = typer.main.get_command(app).commands["advise"]
    flags = {opt for param in command.params for opt in param.opts}
    for fact in load_ruleset().facts.values():
        assert f"--{fact.id.replace('_', '-')}" in flags, fact.id
        if fact.type == "bool":
            no_flags = {opt for param in command.params for opt in param.secondary_opts}
            assert f"--no-{fact.id.replace('_', '-')}" in no_flags, fact.id


def test_all_flags_given_asks_nothing_even_when_interactive():
    result = advise(*QMIX_FLAGS, "--interactive", input="")  # any prompt would hit end of input
    assert result.exit_code == 0, result.output
    out = flat(result.stdout)
    assert "QMIX (qmix)" in out and "Decision path" in out and "Ranking" in out
    assert "?" not in result.stdout.split("Recommendation")[0]  # no prompt before the result


def test_json_output_has_the_required_keys():
    result = advise(*QMIX_FLAGS, "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert {"algorithm", "alternatives", "excluded", "pitfalls", "trace", "answers"} <= set(data)
    assert data["algorithm"] == "qmix" and data["bundled"] is True
    assert data["alternatives"][0]["algorithm"] == "mappo" and data["alternatives"][0]["reasons"]
    assert data["answers"]["n_agents"] == 5 and data["sources"]["n_agents"] == "flag"
    assert data["sources"]["global_state"] == "default"
    rules = {t["rule"]: t for t in data["trace"] if t["stage"] == "matrix"}
    assert rules["cooperative-discrete-qmix"]["fired"] is True
    # the train command carries the catalogue's measured settings (rules/algorithms.yaml, train:)
    assert data["next"]["commands"] == ["marl scaffold qmix --env <env>", "marl train qmix --env <env> --steps 1300000"]
    assert "fallback" not in data["next"]


POPULATION_FLAGS = ["--multiple-learners", "--interdependent", "--reward-structure", "cooperative", "--coordination",
                    "--n-agents", "500", "--action-space", "discrete", "--observability", "partial",
                    "--centralized-training", "--no-communication", "--no-nonmonotonic", "--sample-budget", "cheap"]
MIXED_TEAMS_FLAGS = ["--multiple-learners", "--interdependent", "--reward-structure", "mixed", "--coordination",
                     "--n-agents", "4", "--action-space", "discrete", "--observability", "full",
                     "--centralized-training", "--no-communication", "--sample-budget", "cheap", "--no-turn-based",
                     "--no-opponent-predictable"]


def test_not_bundled_is_said_with_a_bundled_fallback():
    result = advise(*MIXED_TEAMS_FLAGS)
    out = flat(result.stdout)
    assert "(hybrid) is not bundled yet" in out
    assert "$ marl train maddpg --env <env>" in out


def test_a_population_of_500_gets_mean_field_learning():
    out = flat(advise(*POPULATION_FLAGS).stdout)
    assert "$ marl train mfac --env <env>" in out
    assert "large-population-mean-field" in out and "large-population-cheap-samples-mfac" in out
    expensive = flat(advise(*POPULATION_FLAGS[:-1], "expensive").stdout)
    assert "$ marl train mfq --env <env>" in expensive


def test_bundled_recommendation_prints_the_train_command_with_the_env():
    result = advise(*MAPPO_FLAGS, "--env", "mpe2:simple_spread_v3", "--env-kwarg", "continuous_actions=true")
    assert result.exit_code == 0, result.output
    out = flat(result.stdout)
    assert "Multi-Agent PPO (MAPPO) (mappo), bundled" in out
    assert "$ marl scaffold mappo --env mpe2:simple_spread_v3 --env-kwarg continuous_actions=true" in out
    # trained on the batched backend (mpe2's dynamics bit for bit), which the advice says
    assert "$ marl train mappo --env batched:simple_spread_v3 --env-kwarg continuous_actions=true" in out
    assert "uses batched:simple_spread_v3: mpe2:simple_spread_v3's dynamics bit for bit" in out
    assert "not bundled yet" not in out


def test_an_env_without_a_batched_equivalent_is_trained_as_given():
    result = advise(*MAPPO_FLAGS, "--env", "lbforaging:Foraging-8x8-2p-2f-coop-v3", "--json")
    assert result.exit_code == 0, result.output
    steps = json.loads(result.stdout)["next"]
    assert steps["commands"][1].startswith("marl train mappo --env lbforaging:Foraging-8x8-2p-2f-coop-v3")
    assert steps["note"] is None


def test_answers_file_yaml_and_flags_override_it(tmp_path: Path):
    path = tmp_path / "answers.yaml"
    path.write_text("\n".join([
        "multiple_learners: true", "interdependent: true", "reward_structure: competitive", "n_agents: 2",
        "action_space: discrete", "observability: full", "centralized_training: true", "sample_budget: cheap",
        "turn_based: true", "opponent_predictable: false"]))
    data = json.loads(advise("--answers", str(path), "--json").stdout)
    assert data["algorithm"] == "self_play" and data["sources"]["turn_based"] == "answers file"
    data = json.loads(advise("--answers", str(path), "--opponent-predictable", "--json").stdout)
    assert data["algorithm"] == "opponent_modeling" and data["sources"]["opponent_predictable"] == "flag"


def test_answers_file_json_scenario(tmp_path: Path):
    scenario = Path(__file__).parent / "scenarios" / "no_interdependence.json"
    data = json.loads(advise("--answers", str(scenario), "--json").stdout)
    assert data["algorithm"] == "independent"


@pytest.mark.parametrize("text, message", [
    ("reward_structure: [cooperative\n", "is not valid YAML"),
    ("reward_structre: cooperative\n", "unknown fact 'reward_structre'; did you mean 'reward_structure'?"),
    ("- cooperative\n", "must hold a mapping of fact: value"),
])
def test_bad_answers_file_is_a_clear_error(tmp_path: Path, text: str, message: str):
    path = tmp_path / "answers.yaml"
    path.write_text(text)
    result = advise("--answers", str(path))
    assert result.exit_code == 2
    assert message in flat(result.stderr) and "Traceback" not in result.output


def test_missing_answers_file():
    result = advise("--answers", "does-not-exist.yaml")
    assert result.exit_code == 2 and "cannot read answers file" in flat(result.stderr)


def test_bad_flag_value_suggests_the_right_one():
    result = advise("--reward-structure", "cooperatve")
    assert result.exit_code == 2
    assert "reward_structure must be cooperative, competitive, mixed, got 'cooperatve'; did you mean " \
           "'cooperative'?" in flat(result.stderr)


def test_contradictory_flags():
    result = advise("--multiple-learners", "--interdependent", "--reward-structure", "competitive", "--n-agents", "1",
                    "--action-space", "discrete", "--observability", "full", "--centralized-training",
                    "--sample-budget", "cheap", "--turn-based", "--no-opponent-predictable")
    assert result.exit_code == 2 and "two or more learners need at least two agents" in flat(result.stderr)


def test_no_terminal_and_missing_answers_names_them():
    result = advise("--multiple-learners", "--interdependent")  # CliRunner's stdin is not a terminal
    assert result.exit_code == 2
    err = flat(result.stderr)
    assert "[missing-answers]" in err
    assert "answers are missing for: reward_structure, n_agents, action_space, sample_budget" in err
    assert "--reward-structure ..." in err


def test_questionnaire_reasks_wrong_values_and_shows_help():
    typed = ["maybe", "?", "y",       # multiple_learners: wrong value, help, answer
             "y", "cooprative", "cooperative", "yes",  # interdependent, reward_structure (typo), coordination
             "three", "4",            # n_agents: not a number, then 4
             "1",                     # action_space by its number in the list: discrete
             "partial", "y", "yes", "no", "expensive"]
    result = advise("--interactive", input="\n".join(typed) + "\n")
    assert result.exit_code == 0, result.output
    out = flat(result.stdout)
    assert "multiple_learners must be yes/no, got 'maybe'" in out
    assert "Answer no when a single agent learns" in out  # the help text
    assert "reward_structure must be cooperative, competitive, mixed, got 'cooprative'; did you mean " \
           "'cooperative'?" in out
    assert "n_agents must be an integer >= 1, got 'three'" in out
    assert "CommNet (commnet)" in out  # partial observability + communication
    assert out.count("How are the agents rewarded?") == 2  # asked again after the typo


def test_questionnaire_with_json_keeps_stdout_clean():
    result = advise("--interactive", "--json", input="n\n")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["algorithm"] == "single_agent" and data["answers"] == {"multiple_learners": False}
    assert data["sources"]["multiple_learners"] == "answered"
    assert "Will two or more agents learn" in result.stderr


def test_questionnaire_early_exit_asks_two_questions():
    result = advise("--interactive", input="yes\nno\n")
    assert result.exit_code == 0, result.output
    out = flat(result.stdout)
    assert "independent" in out and "early exit" in out
    assert "How are the agents rewarded?" not in out


def test_questionnaire_end_of_input_is_an_error_not_a_hang():
    result = advise("--interactive", input="y\n")
    assert result.exit_code == 2
    assert "input ended before 'interdependent' was answered" in flat(result.stderr)


def test_advise_env_prefills_detected_facts():
    result = advise("--env", "mpe2:simple_spread_v3", "--multiple-learners", "--coordination", "--observability",
                    "partial", "--centralized-training", "--no-communication", "--no-nonmonotonic",
                    "--sample-budget", "expensive", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["answers"]["reward_structure"] == "cooperative" and data["answers"]["n_agents"] == 3
    assert data["sources"]["reward_structure"] == "detected from mpe2:simple_spread_v3"
    assert data["algorithm"] == "qmix"
    assert data["inspection"]["facts"]["global_state"] is True


def test_advise_env_detected_values_are_confirmed_or_overridden():
    # multiple_learners, interdependent (detected: Enter keeps), reward_structure (detected cooperative: override),
    # coordination, n_agents (Enter), action_space (Enter), then the rest of the mixed path.
    typed = ["y", "", "mixed", "y", "", "", "full", "y", "n", "cheap", "n", "n"]
    result = advise("--env", "mpe2:simple_spread_v3", "--interactive", "--json", input="\n".join(typed) + "\n")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert "(detected: cooperative; Enter keeps it)" in flat(result.stderr)
    assert data["answers"]["reward_structure"] == "mixed" and data["sources"]["reward_structure"] == "answered"
    assert data["sources"]["n_agents"] == "detected, confirmed"
    assert data["algorithm"] == "hybrid"


def test_advise_unknown_env():
    result = advise("--env", "mpe2:no_such_env_v0")
    assert result.exit_code == 2 and "[unknown-env]" in result.stderr


# --- marl rules ----------------------------------------------------------------------------------


def test_rules_check_passes():
    result = runner.invoke(app, ["rules", "check", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["ok"] and report["combinations"] > 2000 and not report["problems"]
    assert report["int_values"]["n_agents"][:3] == [1, 2, 3]


def test_rules_check_fails_on_a_broken_rule_dir(tmp_path: Path):
    for name in RULE_FILES:
        (tmp_path / name).write_text(default_rules_dir().joinpath(name).read_text())
    matrix = tmp_path / "matrix.yaml"
    matrix.write_text(matrix.read_text().replace("prefer: {qmix: 10}", "prefer: {qmx: 10}"))
    result = runner.invoke(app, ["rules", "check", "--rules-dir", str(tmp_path)])
    assert result.exit_code == 2
    assert "rule 'cooperative-discrete-qmix': unknown algorithm 'qmx'; did you mean 'qmix'?" in flat(result.stderr)


def test_rules_check_fails_on_a_tie(tmp_path: Path):
    for name in RULE_FILES:
        (tmp_path / name).write_text(default_rules_dir().joinpath(name).read_text())
    matrix = tmp_path / "matrix.yaml"
    # With cheap samples: qmix = 3 (leaf) + 9, mappo = 2 (leaf) + 10, a tie.
    matrix.write_text(matrix.read_text().replace("prefer: {qmix: 10}", "prefer: {qmix: 9}")
                      .replace("prefer: {mappo: 3}", "prefer: {mappo: 10}"))
    result = runner.invoke(app, ["rules", "check", "--rules-dir", str(tmp_path), "--n-agents", "3"])
    assert result.exit_code == 1
    out = flat(result.stdout)
    assert "no single top recommendation" in out and "FAILED" in out


def test_rules_show_renders_tree_and_matrix():
    result = runner.invoke(app, ["rules", "show"])
    assert result.exit_code == 0, result.output
    out = flat(result.stdout)
    assert "Decision tree" in out and "Multiple agents learning together? multiple_learners = no" in out
    assert "-> exit" in out and "single_agent 1" in out and "cooperative-discrete-qmix" in out
    assert "Catalogue" in out


def test_marl_help_shows_each_command_summary_on_one_unbroken_line(monkeypatch):
    # typer's command list keeps the docstring's line breaks in rich mode: each summary (the docstring's first
    # paragraph) must be one line, and on a wide terminal it is shown whole beside its command.
    import inspect
    import re

    from typer import rich_utils

    monkeypatch.setattr(rich_utils, "MAX_WIDTH", 250)
    result = runner.invoke(app, ["--help"], env={"COLUMNS": "250"}, terminal_width=250)
    assert result.exit_code == 0, result.output
    commands = {info.name: info.callback for info in app.registered_commands}
    assert {"report", "tune", "check"} <= set(commands)
    for name, callback in commands.items():
        summary = inspect.cleandoc(callback.__doc__).split("\n\n")[0]
        assert "\n" not in summary, f"{name}: the summary spans lines in the docstring"
        shown = re.search(rf"^│ {name} +(.*?) *│$", result.output, re.M)
        assert shown is not None and shown.group(1) == summary, (name, shown and shown.group(1))
