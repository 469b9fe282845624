"""`marl inspect ENV`: detect advisor facts from a PettingZoo environment and show the evidence."""
from __future__ import annotations

import json
from typing import Optional

import typer

from advisor import inspect as env_inspect
from advisor.console import console, handles_errors
from advisor.explain import render_inspection
from advisor.cli_options import parse_env_kwargs


@handles_errors
def inspect_env(
    env: str = typer.Argument(..., help="PettingZoo env, e.g. mpe2:simple_spread_v3 or pettingzoo.classic:rps_v2."),
    env_kwarg: Optional[list[str]] = typer.Option(None, "--env-kwarg", help="Env keyword argument KEY=VALUE (repeatable)."),
    json_output: bool = typer.Option(False, "--json", help='Print {"facts": ..., "evidence": ...} as JSON.'),
    seed: int = typer.Option(0, "--seed", help="Seed for resets and the random rollout."),
    max_seconds: float = typer.Option(1.5, "--max-seconds", help="Time budget of the random rollout."),
) -> None:
    """Detect agents, spaces, state(), action masks, turn order and reward structure of an environment."""
    budget = env_inspect.RolloutBudget(max_seconds=max_seconds)
    result = env_inspect.inspect_env(env, parse_env_kwargs(env_kwarg), seed=seed, budget=budget)
    if json_output:
        typer.echo(json.dumps(result.to_dict(), indent=2))
        return
    console.print(render_inspection(result))
    kwargs = "".join(f" --env-kwarg {item}" for item in env_kwarg or [])
    console.print(f"Next: [bold]marl advise --env {env}{kwargs}[/] uses these facts and asks the rest.")
