"""`marl check ALGO --env ENV`: the guard `marl train` runs, on its own: does the algorithm fit the env?"""
from __future__ import annotations

import json
from typing import Optional

import typer
from rich.table import Table

from advisor.cli_options import parse_env_kwargs
from advisor.console import console, handles_errors
from advisor.guard import check_fit


@handles_errors
def check(
    algo: str = typer.Argument(..., help="Algorithm id (see `marl algorithms`)."),
    env: str = typer.Option(..., "--env", help="Env to check against, e.g. mpe2:simple_spread_v3."),
    env_kwarg: Optional[list[str]] = typer.Option(None, "--env-kwarg", help="Env keyword argument KEY=VALUE (repeatable)."),
    as_json: bool = typer.Option(False, "--json", help="Print the findings as JSON."),
) -> None:
    """Does ALGO fit ENV? The check `marl train` runs before it trains, on its own.

    Inspect ENV (cached) and check ALGO's capabilities, the advisor's exclusion rules and pitfalls against what
    was detected. Exit 0 when it fits (soft warnings allowed), 1 when a hard mismatch would stop `marl train`."""
    report = check_fit(algo, env, parse_env_kwargs(env_kwarg))
    if as_json:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        detected = ", ".join(f"{k}={v}" for k, v in report.facts.items())
        console.print(f"[bold]{algo}[/] on {env} (detected: {detected})")
        if report.findings:
            table = Table(show_header=True)
            for column in ("", "rule", "holds", "because"):
                table.add_column(column)
            for f in report.findings:
                table.add_row("[red]stop[/]" if f.level == "hard" else "[yellow]warn[/]", f.rule, f.what, f.because)
            console.print(table)
        verdict = "[red]does not fit[/]: `marl train` stops (--force trains anyway)" if report.hard else \
            "[green]fits[/]" + (" (with warnings)" if report.soft else "")
        pick = f"; the advisor's pick for this env: {report.pick}" if report.pick else ""
        console.print(verdict + pick)
    if report.hard:
        raise typer.Exit(code=1)
