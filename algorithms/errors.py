"""The learning library's one error type: everything a caller can get wrong (an unknown env or algorithm, a bad
config value, a corrupt checkpoint) raises MARLError with a stable `code`, a one-line `message` and an optional
`hint`. The advisor's own errors subclass it, so the CLI prints both the same way."""
from __future__ import annotations

import difflib
from typing import Iterable


class MARLError(Exception):
    """A caller-facing error: a stable `code`, a one-line `message`, and an optional `hint`."""

    def __init__(self, code: str, message: str, hint: str | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message} ({self.hint})"


def did_you_mean(word: str, choices: Iterable[str]) -> str | None:
    """A 'did you mean ...?' hint for a misspelt name, or None when nothing is close."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"did you mean '{close[0]}'?" if close else None


class EnvError(MARLError):
    """The environment itself raised (in reset, step, state or render): not the caller's input, so the CLI exits 1."""

    exit_code = 1

    def __init__(self, env_id: str, method: str, episode_step: int, error: BaseException, copy: int = 0):
        super().__init__("env-raised", f"'{env_id}' raised in {method}() at step {episode_step} of an episode "
                                       f"(env copy {copy}): {type(error).__name__}: {error}",
                         "the environment's own error; `marl --debug ...` shows its traceback")
        self.env_id, self.method, self.episode_step, self.copy = env_id, method, episode_step, copy
