"""`marl rules check` and `marl rules show`: validate the advisor's rule files, and display them."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from advisor.check import DEFAULT_N_AGENTS_BUCKETS, check_rules, load_registry
from advisor.console import console, handles_errors
from advisor.explain import check_report_to_dict, render_check, render_rules
from advisor.ruleset import load_ruleset

app = typer.Typer(help="Check and show the advisor's rules (rules/*.yaml).", no_args_is_help=True)

RULES_DIR_HELP = "Use the rule files in this folder instead of the shipped ones."


@app.command("check")
@handles_errors
def check(
    rules_dir: Optional[Path] = typer.Option(None, "--rules-dir", help=RULES_DIR_HELP),
    n_agents: Optional[list[int]] = typer.Option(
        None, "--n-agents", help="n_agents values to enumerate (repeatable; rule thresholds are added). "
                                 f"Default: {' '.join(map(str, DEFAULT_N_AGENTS_BUCKETS))}."),
    json_output: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Validate the rules, prove one top recommendation for every answer combination, find dead rules."""
    rs = load_ruleset(rules_dir)
    report = check_rules(rs, load_registry(), tuple(n_agents) if n_agents else DEFAULT_N_AGENTS_BUCKETS)
    if json_output:
        typer.echo(json.dumps(check_report_to_dict(report), indent=2))
    else:
        console.print(render_check(report))
    if not report.ok:
        raise typer.Exit(code=1)


@app.command("show")
@handles_errors
def show(rules_dir: Optional[Path] = typer.Option(None, "--rules-dir", help=RULES_DIR_HELP)) -> None:
    """Render the decision tree, the selection matrix and the algorithm catalogue."""
    console.print(render_rules(load_ruleset(rules_dir)))
