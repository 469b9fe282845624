"""`marl report DIR...`: statistics over seeds for any set of run directories (or benchmark directories)."""
from __future__ import annotations

import json
from pathlib import Path

import typer

from advisor.console import console, handles_errors
from advisor.report import find_runs, markdown, write


@handles_errors
def report(
    paths: list[Path] = typer.Argument(..., help="Run directories, or folders holding them (a benchmark directory)."),
    out: Path = typer.Option(Path("report"), "--out", help="Folder for report.md, report.json, curves.png, profile.png."),
    as_json: bool = typer.Option(False, "--json", help="Print report.json's content."),
) -> None:
    """Statistics over seeds for any runs: IQM with 95% intervals, learning curves, performance profiles.

    Per algorithm and env: mean, interquartile mean and 95% bootstrap interval of the final return over seeds;
    IQM learning curves with bands; a performance profile across envs (0 = random play, 1 = the best run); the
    probability that one algorithm's run beats another's. Runs are grouped by algorithm, env, env kwargs and
    every config field off its default."""
    runs = find_runs(paths)
    data = write(runs, out)
    if as_json:
        print(json.dumps(data, indent=2))
        return
    console.print(markdown(data), highlight=False, markup=False)
    console.print(f"wrote {out}/report.md, report.json, curves.png" +
                  (", profile.png" if data["performance_profile"]["fraction_above"] else "") +
                  f" from {len(runs)} run{'s' if len(runs) != 1 else ''}")
