"""Shared rich consoles and the one boundary where any failure of a command becomes one message and an exit code:
2 for bad input (a MARLError, library or advisor), 1 for an env that raised (EnvError), an I/O failure or an unexpected error, 130 when
interrupted with Ctrl-C and 143 when sent SIGTERM (handled like Ctrl-C: see algorithms.core.interrupts). The traceback is
shown only with `marl --debug ...`."""
from __future__ import annotations

import functools
import os
import shutil
import sys
from typing import Callable, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from advisor.errors import MARLError
from algorithms.core.interrupts import Terminated, sigterm_interrupts


def _width() -> int | None:
    """Piped output (CI logs, `| tee`) would wrap at 80 columns: use a wide page there (COLUMNS wins)."""
    if sys.stdout.isatty() or os.environ.get("COLUMNS"):
        return None
    return max(shutil.get_terminal_size((120, 24)).columns, 120)


WIDTH = _width()
console = Console(width=WIDTH)
if WIDTH is not None:  # typer's --help pages too
    try:
        from typer import rich_utils
        rich_utils.MAX_WIDTH = rich_utils.MAX_WIDTH or WIDTH
    except ImportError:  # a typer without rich help
        pass
err_console = Console(stderr=True, width=WIDTH)
DEBUG = {"on": False}  # set by `marl --debug`: let exceptions through with their traceback

F = TypeVar("F", bound=Callable)


def fail(error: MARLError, code: int = 2) -> "typer.Exit":
    """Print one clear message (no traceback) and return the Exit to raise."""
    # Messages and hints are plain text: `pip install "marl-advisor[envs]"` must not be read as rich markup.
    err_console.print(f"[bold red]error[/] [dim]\\[{error.code}][/]: {escape(error.message)}", highlight=False)
    if error.hint:
        err_console.print(f"  hint: {escape(error.hint)}", highlight=False)
    return typer.Exit(code=code)


def interrupted_code(interrupt: KeyboardInterrupt) -> int:
    """The exit code for an interrupted command: 143 for SIGTERM, 130 for Ctrl-C (128 + the signal number)."""
    return 143 if isinstance(interrupt, Terminated) else 130


def handles_errors(fn: F) -> F:
    """Decorate a command with the boundary (see the module docstring)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            with sigterm_interrupts():
                return fn(*args, **kwargs)
        except (typer.Exit, typer.Abort):
            raise
        except MARLError as error:
            if DEBUG["on"]:
                raise
            raise fail(error, getattr(error, "exit_code", 2)) from None
        except KeyboardInterrupt as interrupt:
            if DEBUG["on"]:
                raise
            err_console.print("[bold red]interrupted[/]: a training run continues from its last checkpoint with "
                              "`marl train --resume RUN_DIR`", highlight=False)
            raise typer.Exit(code=interrupted_code(interrupt)) from None
        except OSError as error:
            if DEBUG["on"]:
                raise
            where = f" ({error.filename})" if getattr(error, "filename", None) else ""
            raise fail(MARLError("io-error", f"{error.strerror or error}{where}",
                                 "check the path and its permissions; `marl --debug ...` shows the traceback"),
                       code=1) from None
        except MemoryError as error:
            if DEBUG["on"]:
                raise
            raise fail(MARLError("out-of-memory", f"ran out of memory ({error or 'MemoryError'})",
                                 "make observations smaller (--env-kwarg obs_resize=HxW for images), use fewer env "
                                 "copies (--num-envs) or lower --set buffer_size / batch_steps"), code=1) from None
        except Exception as error:  # an env or a user's code that raises: one message, not a traceback
            if DEBUG["on"]:
                raise
            raise fail(MARLError("failed", f"{type(error).__name__}: {error}",
                                 "`marl --debug ...` shows where it was raised"), code=1) from None

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
