"""The advisor's errors: a subclass of the learning library's MARLError, so the CLI reports both alike."""
from __future__ import annotations

from algorithms.errors import MARLError, did_you_mean

__all__ = ["AdvisorError", "MARLError", "did_you_mean"]


class AdvisorError(MARLError):
    """A user-facing error raised by the advisor (rules, answers, questionnaire, scaffolding, CLI)."""
