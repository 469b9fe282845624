"""Shared rich consoles and the one place where AdvisorError becomes a message and an exit code."""
from __future__ import annotations

import functools
from typing import Callable, TypeVar

import typer
from rich.console import Console

from advisor.errors import AdvisorError

console = Console()
err_console = Console(stderr=True)

F = TypeVar("F", bound=Callable)


def fail(error: AdvisorError) -> "typer.Exit":
    """Print one clear message (no traceback) and return the Exit to raise."""
    err_console.print(f"[bold red]error[/] [dim]\\[{error.code}][/]: {error.message}", highlight=False)
    if error.hint:
        err_console.print(f"  hint: {error.hint}", highlight=False)
    return typer.Exit(code=2)


def handles_errors(fn: F) -> F:
    """Decorate a command so an AdvisorError prints as one message and exits with status 2."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except AdvisorError as error:
            raise fail(error) from None

    return wrapper  # type: ignore[return-value]
