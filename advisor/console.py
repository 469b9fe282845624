"""Shared rich consoles and the one place where a MARLError (library or advisor) becomes a message and an exit."""
from __future__ import annotations

import functools
from typing import Callable, TypeVar

import typer
from rich.console import Console

from advisor.errors import MARLError

console = Console()
err_console = Console(stderr=True)

F = TypeVar("F", bound=Callable)


def fail(error: MARLError) -> "typer.Exit":
    """Print one clear message (no traceback) and return the Exit to raise."""
    err_console.print(f"[bold red]error[/] [dim]\\[{error.code}][/]: {error.message}", highlight=False)
    if error.hint:
        err_console.print(f"  hint: {error.hint}", highlight=False)
    return typer.Exit(code=2)


def handles_errors(fn: F) -> F:
    """Decorate a command so a MARLError prints as one message and exits with status 2."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except MARLError as error:
            raise fail(error) from None

    return wrapper  # type: ignore[return-value]


def print_references(result: dict) -> None:
    """After an evaluation: the reference policies' returns over the same episodes, and a warning when the
    trained policy does not beat random play (see algorithms.training.evaluate.beats_random)."""
    from algorithms.training.evaluate import beats_random

    refs = result.get("references")
    if not refs:
        return
    names = {"random": "random play", "noop": "doing nothing"}
    console.print("same episodes: " + ", ".join(f"{names[k]} {v['mean']:.2f}" for k, v in refs.items())
                  + f"; this policy {result['return_mean']:.2f}", highlight=False)
    if beats_random(result) is False:
        err_console.print("[bold yellow]warning[/]: the policy does not beat random play on this env "
                          "(train longer, or see `marl algorithms` and docs/ for settings that learn here)",
                          highlight=False)
