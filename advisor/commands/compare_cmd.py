"""`marl compare RUN_DIR...`: final returns, speed and wall time of several runs side by side."""
from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.table import Table

from advisor.console import console, handles_errors
from advisor.curves import load_run, summary


@handles_errors
def compare(
    run_dirs: list[Path] = typer.Argument(..., help="Run directories written by `marl train`."),
    json_out: bool = typer.Option(False, "--json", help="Print as JSON."),
) -> None:
    """Compare runs: final return, env steps/s, wall time and the settings that set each run apart.

    The final per-agent return is eval.json's when training finished; the settings are the env kwargs and the
    config fields off their defaults."""
    rows = [summary(load_run(path)) for path in run_dirs]
    if json_out:
        typer.echo(json.dumps(rows, indent=2))
        return
    table = Table(title="Runs")
    for column in ("run", "algo", "env", "settings", "seed", "env steps", "final return", "steps/s", "wall time"):
        table.add_column(column, justify="right" if column not in ("run", "algo", "env", "settings") else "left",
                         overflow="fold")
    for r in rows:
        source = "" if r["return_source"] == "eval.json" else " *"
        table.add_row(r["run"], r["algo"], r["env"], r["settings"] or "defaults", str(r["seed"]), f"{r['env_steps']:,.0f}",
                      f"{r['final_return']:.2f}{source}", f"{r['steps_per_s']:,.0f}", f"{r['wall_time_s']:.0f} s")
    console.print(table)
    if any(r["return_source"] != "eval.json" for r in rows):
        console.print("* no eval.json yet: mean return of the last training episodes")
