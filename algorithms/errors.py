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


class EnvOutputError(EnvError):
    """The environment returned what no network can train on: a NaN or infinite reward or observation, an
    observation whose size or dtype does not fit its declared space, an action mask of the wrong length. Found
    where the env's output enters the library (core/pettingzoo_vec_env.py), before any network sees it."""

    def __init__(self, env_id: str, method: str, episode_step: int, problem: str, copy: int = 0,
                 agent: str | None = None, episode: int | None = None):
        when = (f"at the start of episode {episode}" if method == "reset" else
                f"at step {episode_step} of episode {episode}")
        who = f", for agent '{agent}'," if agent is not None else ""
        MARLError.__init__(self, "bad-env-output", f"'{env_id}' {method}() {when} (env copy {copy}) returned{who} "
                                                   f"{problem}",
                           "every reward, observation and action mask is checked against the env's declared spaces "
                           "before anything trains on it: fix the env, or wrap it, so that it returns what its "
                           "spaces declare")
        self.env_id, self.method, self.episode_step, self.copy = env_id, method, episode_step, copy
        self.agent, self.episode, self.problem = agent, episode, problem


class BadEnvOutput(ValueError):
    """An observation, mask or reward that does not fit what the env declared, found while it is turned into rows
    (core/observation_rows.py, envs/gymma.py): the env adapter turns it into an EnvOutputError naming the env, the
    agent, the step and the episode; `predict` into a MARLError. `agent` where the raiser knows it."""

    def __init__(self, problem: str, agent: str | None = None):
        super().__init__(problem)
        self.problem, self.agent = problem, agent
