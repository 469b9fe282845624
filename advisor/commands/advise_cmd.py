"""`marl advise`: answers from flags, an answers file, `--env` detection and prompts -> a recommendation."""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Optional

import typer

from advisor.check import load_registry
from advisor.console import console, err_console, handles_errors
from advisor.engine import evaluate, missing_facts
from advisor.errors import AdvisorError
from advisor.explain import (bundled_algorithms, next_steps, recommendation_to_dict, render_next_steps,
                             render_recommendation)
from advisor.facts import FactValue, load_answers_file, validate_answers
from advisor.inspect import inspect_env
from advisor.questionnaire import RichAsker, interview
from advisor.race import measured, measured_line
from advisor.ruleset import RuleSet, load_ruleset
from advisor.cli_options import parse_env_kwargs
from algorithms.core.env_registry import native_equivalent


@handles_errors
def advise(
    answers_file: Optional[Path] = typer.Option(None, "--answers", help="YAML or JSON file of fact: value answers."),
    env: Optional[str] = typer.Option(None, "--env", help="Detect facts from this PettingZoo env, e.g. mpe2:simple_spread_v3."),
    env_kwarg: Optional[list[str]] = typer.Option(None, "--env-kwarg", help="Env keyword argument KEY=VALUE (repeatable)."),
    json_output: bool = typer.Option(False, "--json", help="Print the recommendation as JSON."),
    scaffold_dir: Optional[Path] = typer.Option(
        None, "--scaffold", help="Also write a starter project for the recommended algorithm here (needs --env)."),
    interactive: Optional[bool] = typer.Option(
        None, "--interactive/--no-interactive",
        help="Ask for missing answers. Default: only when stdin is a terminal; without one, missing answers are an error."),
    multiple_learners: Optional[bool] = typer.Option(
        None, "--multiple-learners/--no-multiple-learners", help="Two or more agents learn at the same time."),
    interdependent: Optional[bool] = typer.Option(
        None, "--interdependent/--no-interdependent", help="Agents' actions affect each other's rewards or transitions."),
    reward_structure: Optional[str] = typer.Option(
        None, "--reward-structure", help="cooperative, competitive or mixed."),
    coordination: Optional[bool] = typer.Option(
        None, "--coordination/--no-coordination", help="Agents must coordinate to succeed."),
    n_agents: Optional[int] = typer.Option(None, "--n-agents", help="Number of agents."),
    action_space: Optional[str] = typer.Option(None, "--action-space", help="discrete or continuous."),
    factorised_actions: Optional[bool] = typer.Option(
        None, "--factorised-actions/--no-factorised-actions",
        help="Each discrete action is several choices at once: MultiDiscrete, MultiBinary (optional; default no)."),
    observability: Optional[str] = typer.Option(None, "--observability", help="full or partial."),
    centralized_training: Optional[bool] = typer.Option(
        None, "--centralized-training/--no-centralized-training",
        help="Global state / all agents' data available during training."),
    global_state: Optional[bool] = typer.Option(
        None, "--global-state/--no-global-state", help="The env provides env.state() (optional; default yes)."),
    communication: Optional[bool] = typer.Option(
        None, "--communication/--no-communication", help="Agents may exchange messages while acting."),
    nonmonotonic: Optional[bool] = typer.Option(
        None, "--nonmonotonic/--no-nonmonotonic",
        help="An agent's good action can turn bad depending on the others' (non-monotonic payoffs)."),
    sample_budget: Optional[str] = typer.Option(None, "--sample-budget", help="cheap or expensive."),
    turn_based: Optional[bool] = typer.Option(None, "--turn-based/--no-turn-based", help="Agents act in turns."),
    opponent_predictable: Optional[bool] = typer.Option(
        None, "--opponent-predictable/--no-opponent-predictable", help="Opponents follow consistent strategies."),
    tabular: Optional[bool] = typer.Option(
        None, "--tabular/--no-tabular", help="Observations are a small discrete set (optional; default no)."),
) -> None:
    """Recommend a multi-agent RL algorithm, with the reasons, the alternatives and the pitfalls."""
    rs = load_ruleset()
    # Every fact has a flag of the same name (tests check this), so the parameters are the flag answers.
    flags = {k: v for k, v in locals().items() if k in rs.facts and v is not None}
    from_flags = validate_answers(flags, rs.facts, "flag")
    from_file = load_answers_file(answers_file, rs.facts) if answers_file else {}
    given = {**from_file, **from_flags}  # flags win over the file

    inspection = inspect_env(env, parse_env_kwargs(env_kwarg)) if env else None
    detected = {k: v for k, v in inspection.facts.items() if k not in given} if inspection else {}
    if interactive is None:
        interactive = sys.stdin.isatty()

    asked: list[str] = []
    if interactive:
        asker = RichAsker(err_console if json_output else console)  # keep stdout pure JSON
        answers = interview(given, rs, asker, detected, on_error=asker.report)
        asked = asker.asked
    else:
        answers = {**detected, **given}
        _refuse_missing(answers, rs)

    rec = evaluate(answers, rs)
    bundled = bundled_algorithms(rs, load_registry())
    if scaffold_dir is not None:  # check before printing anything; write after the advice is shown
        _check_scaffold(rec.algorithm, bundled, env)
    env_args = _env_args(env, env_kwarg)
    steps = next_steps(rec, rs, bundled, env_args, native_equivalent(env) if env else None)
    sources = _sources(answers, from_flags, from_file, detected, asked, env)
    raced = measured(env, parse_env_kwargs(env_kwarg)) if env else None  # a `marl race` on this env, if any
    if json_output:
        data: dict[str, Any] = recommendation_to_dict(rec, rs, bundled)
        data["sources"] = {fact: "default" if fact in rec.assumed else sources.get(fact, "") for fact in rec.answers}
        data["next"] = steps
        if inspection is not None:
            data["inspection"] = inspection.to_dict()
        if raced is not None:
            data["measured"] = raced
        typer.echo(json.dumps(data, indent=2))
    else:
        console.print(render_recommendation(rec, rs, bundled, sources))
        if raced is not None:
            console.print(measured_line(raced), highlight=False)
        console.print(render_next_steps(steps), soft_wrap=True)
    if scaffold_dir is not None:
        from advisor.commands.scaffold_cmd import scaffold_project

        scaffold_project(rec.algorithm, env, env_kwarg, None, scaffold_dir, force=False, pitfalls=rec.pitfalls,
                         out_console=err_console if json_output else console)


def _check_scaffold(algo: str, bundled: Any, env: str | None) -> None:
    if env is None:
        raise AdvisorError("scaffold-needs-env", "--scaffold needs --env: the starter project trains on it")
    if algo not in bundled:
        raise AdvisorError("not-bundled", f"the recommended algorithm '{algo}' is not bundled yet, so it cannot be scaffolded",
                           "see the bundled alternative in `marl advise` and use `marl scaffold ALGO --env ENV --out DIR`")


def _refuse_missing(answers: dict[str, FactValue], rs: RuleSet) -> None:
    """Without a terminal nobody can answer: name what is missing instead of waiting."""
    needed, maybe = missing_facts(answers, rs)
    if not needed:
        return
    flags = " ".join(f"--{f.replace('_', '-')} ..." for f in needed)
    message = f"no terminal to ask on, and answers are missing for: {', '.join(needed)}"
    if maybe:
        message += f" (depending on those, maybe also: {', '.join(maybe)})"
    raise AdvisorError("missing-answers", message, f"pass {flags}, use --answers FILE, or --interactive")


def _env_args(env: str | None, env_kwarg: list[str] | None) -> str | None:
    if not env:
        return None
    return " ".join([env] + [f"--env-kwarg {item}" for item in env_kwarg or []])


def _sources(answers: dict[str, FactValue], from_flags: dict, from_file: dict, detected: dict,
             asked: list[str], env: str | None) -> dict[str, str]:
    out = {}
    for fact, value in answers.items():
        if fact in from_flags:
            out[fact] = "flag"
        elif fact in from_file:
            out[fact] = "answers file"
        elif fact in asked:
            out[fact] = "detected, confirmed" if detected.get(fact) == value and fact in detected else "answered"
        elif fact in detected:
            out[fact] = f"detected from {env}"
    return out
