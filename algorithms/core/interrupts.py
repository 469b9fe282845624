"""SIGTERM handled like Ctrl-C.

`kill PID`, a batch scheduler's time limit, `docker stop` and Ray's task cancellation send SIGTERM, whose default
action ends the process at once: no message, no exit code that says why, and worker processes of a benchmark left
training on their own. Inside `sigterm_interrupts()` SIGTERM raises `Terminated`, a KeyboardInterrupt, so the same
clean-up runs as for Ctrl-C (results written, workers stopped, every run resumable from its last checkpoint).
"""
from __future__ import annotations

import signal
import threading
from contextlib import contextmanager
from typing import Iterator


class Terminated(KeyboardInterrupt):
    """The process was sent SIGTERM (exit code 143 by the shell's convention, 128 + 15)."""


def _raise_terminated(signum, frame) -> None:
    raise Terminated("terminated (SIGTERM)")


@contextmanager
def sigterm_interrupts() -> Iterator[None]:
    """Raise Terminated in the main thread on SIGTERM while the block runs; the previous handler comes back after.
    Outside the main thread (where Python cannot install handlers) it does nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
