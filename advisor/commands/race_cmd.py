"""`marl race --env ENV`: does the advisor's recommendation hold on this env? Its top bundled picks race by
successive halving over seeds and budgets (algorithms/training/race.py); the verdict names the winner."""
from __future__ import annotations

import functools
import inspect
import json
import time
from pathlib import Path
from typing import Any, Optional

import typer
import yaml
from rich.table import Table

from advisor.cli_options import parse_env_kwargs
from advisor.commands.advise_cmd import advise
from advisor.console import console, handles_errors, interrupted_code
from advisor.errors import AdvisorError
from advisor.facts import load_answers_file, validate_answers
from advisor.guard import detected_facts
from advisor.race import (arm, arms_that_build, check_budget, curves_png, ranked_bundled, recommend, remember,
                          verdict)
from advisor.ruleset import load_ruleset
from algorithms.core.checkpoint import atomic_write_bytes
from algorithms.training.benchmark_spec import BenchmarkSpec, EnvChoice, _label, validate
from algorithms.training.race import RaceSpec, run_race


def race(
    env: str = typer.Option(..., "--env", help="The env to race on, e.g. mpe2:simple_spread_v3."),
    env_kwarg: Optional[list[str]] = typer.Option(None, "--env-kwarg", help="Env keyword argument KEY=VALUE (repeatable)."),
    budget: int = typer.Option(..., "--budget", help="Env steps of the arms that reach the last rung."),
    answers_file: Optional[Path] = typer.Option(None, "--answers", help="YAML or JSON file of fact: value answers "
                                                "(as `marl advise --answers`); the advise flags below work too."),
    top: int = typer.Option(3, "--top", help="How many of the advisor's ranked bundled algorithms race."),
    algorithms: Optional[str] = typer.Option(None, "--algorithms", help="Race these instead (comma-separated ids); "
                                             "the advisor's pick is still named in the verdict."),
    seeds: int = typer.Option(3, "--seeds", help="Seeds per arm (0..N-1) at every rung."),
    eta: int = typer.Option(3, "--eta", help="Budgets grow by this factor per rung and max(2, 1/eta of the arms) "
                            "go on, until two race to the full budget."),
    eval_episodes: int = typer.Option(16, "--eval-episodes", help="Deterministic evaluation episodes per trial and rung."),
    out: Optional[Path] = typer.Option(None, "--out", help="Race directory (default runs/race-ENV); re-running "
                                       "the same race into it resumes."),
    workers: int = typer.Option(1, "--workers", help="Trials side by side in local processes."),
    ray: bool = typer.Option(False, "--ray", help="Each trial as a Ray task (needs pip install \"marl-advisor\\[ray]\")."),
    as_json: bool = typer.Option(False, "--json", help="Print the race as JSON."),
    **flags: Any,
) -> None:
    """Race the advisor's top picks on ENV itself: does its recommendation hold?

    Race the advisor's top recommendations for ENV on ENV itself: every arm trains on the same seeds, the
    weaker ones are stopped at each rung by successive halving, and the verdict says whether the advisor's pick
    won or which algorithm beat it, with the probability of improvement. Writes race.json and race.png; `marl
    advise --env ENV` then shows the result. What inspection cannot detect comes from the answers or flags
    (else the assumptions are printed)."""
    check_budget(budget, seeds, top)
    rs = load_ruleset()
    kwargs = parse_env_kwargs(env_kwarg)
    given = {**(load_answers_file(answers_file, rs.facts) if answers_file else {}),
             **validate_answers({k: v for k, v in flags.items() if v is not None}, rs.facts, "flag")}
    rec, assumed = recommend(detected_facts(env, kwargs), given, rs)
    ranked = ranked_bundled(rec, rs)
    if not ranked:
        raise AdvisorError("no-recommendation", f"the advisor has no bundled algorithm for {env} with these answers")
    pick = ranked[0]
    if algorithms:
        arms = [arm(a.strip(), rs) for a in algorithms.split(",") if a.strip()]
        skipped: list[str] = []
        if len({a.name for a in arms}) != len(arms):
            raise AdvisorError("bad-option", f"--algorithms repeats an algorithm: {algorithms}")
        validate(BenchmarkSpec(arms, [EnvChoice(env, kwargs, _label(env))], [0], budget))  # each builds on the env
    else:
        arms, skipped = arms_that_build(ranked, env, kwargs, top, rs)
    spec = RaceSpec(arms, EnvChoice(env, kwargs, _label(env)), list(range(seeds)), budget, eta, eval_episodes)
    rungs = spec.rungs()
    root = out or Path("runs") / f"race-{spec.env.name}"
    say = console.print if not as_json else (lambda *a, **k: None)
    if assumed:
        say(f"[dim]assumed (not detected, not answered): {', '.join(f'{k}={v}' for k, v in assumed.items())}[/]")
    for line in skipped:
        say(f"[yellow]not in the race[/]: {line}")
    say(f"race on {env}: {', '.join(a.name for a in arms)} (advisor's pick: {pick}); {seeds} seeds; rungs "
        + " -> ".join(f"{n} arms at {s:,}" for s, n in rungs) + f" -> {root}")

    def progress(event: dict[str, Any]) -> None:
        if event["event"] == "rung":
            say(f"rung {event['rung'] + 1}/{len(rungs)}: {', '.join(event['arms'])} to {event['steps']:,} env steps")

    started = time.monotonic()
    try:
        result = run_race(spec, yaml.safe_dump(spec.as_yaml_data(), sort_keys=False), root, workers,
                          "local" if ray else None, progress)
    except KeyboardInterrupt as interrupt:
        console.print("[bold red]interrupted[/]: the same command resumes the race from its checkpoints", highlight=False)
        raise typer.Exit(code=interrupted_code(interrupt)) from None
    result.update({"advisor_pick": pick, "verdict": verdict(result, pick), "assumed": assumed,
                   "wall_seconds_this_session": time.monotonic() - started})
    atomic_write_bytes(root / "race.json", json.dumps(result, indent=2).encode())
    atomic_write_bytes(root / "race.png", curves_png(result))
    remember(result, root)
    if as_json:
        print(json.dumps(result, indent=2))
        return
    _print(result)
    console.print(f"wrote {root / 'race.json'} and {root / 'race.png'}")


def _print(result: dict[str, Any]) -> None:
    table = Table(title=f"race on {result['env']}: IQM evaluation return per agent [95% CI] over "
                        f"{len(result['seeds'])} seeds")
    table.add_column("algorithm")
    for steps in result["rungs"]:
        table.add_column(f"{steps:,}")
    for column in ("stopped at", "train s / seed"):
        table.add_column(column)
    for a in sorted(result["arms"], key=lambda a: (-a["steps"], -a["iqm"])):
        cells = [f"{r['iqm']:.3f} [{r['ci95'][0]:.3f}, {r['ci95'][1]:.3f}]" for r in a["rungs"]]
        name = a["algorithm"] + (" [green](winner)[/]" if a["algorithm"] == result["winner"] else "")
        table.add_row(name, *cells, *[""] * (len(result["rungs"]) - len(cells)), f"{a['stopped_at']:,}",
                      f"{a['train_seconds']:.0f}")
    console.print(table)
    console.print(f"{result['verdict']} (this run of the race: {result['wall_seconds_this_session']:.0f} s wall-clock)")


def _with_advise_flags(command):
    """The advise flags (one per fact) join the race's options: the same answers, the same names."""
    facts = set(load_ruleset().facts)
    own = [p for p in inspect.signature(command, eval_str=True).parameters.values()
           if p.kind is not p.VAR_KEYWORD]
    extra = [p.replace(kind=p.KEYWORD_ONLY) for p in inspect.signature(advise, eval_str=True).parameters.values()
             if p.name in facts]
    own = [p.replace(kind=p.KEYWORD_ONLY) for p in own]

    @functools.wraps(command)
    def wrapper(**kwargs):
        return command(**kwargs)

    wrapper.__signature__ = inspect.Signature(own + extra)
    return handles_errors(wrapper)


race = _with_advise_flags(race)
