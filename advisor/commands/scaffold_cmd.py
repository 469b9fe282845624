"""`marl scaffold ALGO --env ENV --out DIR`: write a starter project for one algorithm and environment."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Iterable, Optional

import typer
from rich.console import Console

from advisor.console import console, handles_errors
from advisor.scaffold import render_project, write_project
from advisor.cli_options import parse_set_options
from advisor.cli_options import parse_env_kwargs


def scaffold_project(algo: str, env: str, env_kwarg: list[str] | None, set_: list[str] | None, out: Path,
                     force: bool, pitfalls: Iterable[Any] = (), standalone: bool = False,
                     out_console: Console = console) -> None:
    """Render everything first (bad input writes nothing), then write and say what was written."""
    files = render_project(algo, env, parse_env_kwargs(env_kwarg), parse_set_options(set_), pitfalls, standalone)
    written = write_project(out, files, force)
    out_console.print(f"wrote a starter project for [bold]{algo}[/] on {env} in {out}:")
    for path in written:
        out_console.print(f"  {path}")
    # The interpreter that runs marl has this package installed; a bare `python` may not (no venv active).
    out_console.print(f"next: cd {out} && {sys.executable} train.py")


@handles_errors
def scaffold(
    algo: str = typer.Argument(..., help="Algorithm id (see `marl algorithms`)."),
    env: str = typer.Option(..., "--env", help="PettingZoo env, e.g. mpe2:simple_spread_v3."),
    env_kwarg: Optional[list[str]] = typer.Option(None, "--env-kwarg", help="Env keyword argument KEY=VALUE (repeatable)."),
    set_: Optional[list[str]] = typer.Option(None, "--set", help="Config field KEY=VALUE written into train.py (repeatable)."),
    out: Path = typer.Option(..., "--out", help="Directory to write the project into (new or empty)."),
    force: bool = typer.Option(False, "--force", help="Write into a non-empty directory, replacing same-named files."),
    standalone: bool = typer.Option(False, "--standalone", help="One CleanRL-style train.py needing only torch and PettingZoo (mappo, ippo, qmix)."),
) -> None:
    """Write train.py (every config field documented), config.yaml, README.md and tests/test_smoke.py."""
    scaffold_project(algo, env, env_kwarg, set_, out, force, standalone=standalone)
