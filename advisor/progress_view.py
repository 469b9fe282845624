"""Progress bars that a log can read. On a terminal rich redraws its bar in place; written to a file or a pipe
(`nohup ... > log`, CI, `| tee`) rich shows nothing until the work ends, which for a benchmark can be hours.
There `ProgressView` prints the bar's line as plain text instead, at most once every `every` seconds."""
from __future__ import annotations

import math
import os
import time

from rich.console import Console
from rich.markup import escape
from rich.progress import Progress, TaskID

from advisor.console import err_console

LOG_EVERY_S = 60.0
"""Seconds between the lines written to a log (`MARL_PROGRESS_EVERY` overrides, e.g. 10 to follow a short run)."""


def _log_every() -> float:
    raw = os.environ.get("MARL_PROGRESS_EVERY")
    if not raw:
        return LOG_EVERY_S
    try:
        every = float(raw)
    except ValueError:
        every = math.nan
    if not math.isfinite(every) or every < 0:  # a display setting must not stop a run: say so, keep the default
        err_console.print(f"[bold yellow]warning[/]: MARL_PROGRESS_EVERY={escape(raw)} is not a number of seconds "
                          f"(>= 0); progress lines come every {LOG_EVERY_S:g} s", highlight=False)
        return LOG_EVERY_S
    return every


class ProgressView(Progress):
    """rich's Progress, plus a line per `every` seconds (and per `note` call) when the console is not a terminal."""

    def __init__(self, *columns, console: Console, every: float | None = None, **kwargs):
        super().__init__(*columns, console=console, **kwargs)
        self.logging = not (console.is_terminal or self.disable)
        self.every = _log_every() if every is None else every
        self._logged_at = time.monotonic()

    def update(self, task_id: TaskID, **kwargs) -> None:
        super().update(task_id, **kwargs)
        self._maybe_log()

    def advance(self, task_id: TaskID, advance: float = 1) -> None:
        super().advance(task_id, advance)
        self._maybe_log()

    def note(self, message: str) -> None:
        """A line above the bar on a terminal; in a log, the line and then the bar's current state."""
        if self.disable:
            return
        self.console.print(message, highlight=False)
        if self.logging:
            self._print_bar()

    def _maybe_log(self) -> None:
        # a finished bar is printed once more by rich itself when the view closes
        if self.logging and not self.finished and time.monotonic() - self._logged_at >= self.every:
            self._print_bar()

    def _print_bar(self) -> None:
        self._logged_at = time.monotonic()
        self.console.print(self.make_tasks_table(self.tasks))
