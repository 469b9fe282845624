"""Facts (the questions of rules/facts.yaml) and answers validated against them.

A fact value is a bool, an int or one of a fact's choices. Everything a user types or writes
(a prompt, a flag, an answers file) goes through `Fact.parse`, so one place decides what
'yes', '8' or 'cooperativ' mean and what the error says.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Mapping

import yaml

from advisor.errors import AdvisorError, did_you_mean

if TYPE_CHECKING:
    from advisor.conditions import Condition

FactValue = bool | int | str
FactType = Literal["bool", "choice", "int"]

TRUE_WORDS = ("true", "yes", "y", "1", "on")
FALSE_WORDS = ("false", "no", "n", "0", "off")

# Keys an answers file may carry besides fact ids (scenario files under tests/ document themselves).
ANSWERS_FILE_META_KEYS = ("answers", "expect", "expect_not", "why", "description")


@dataclass(frozen=True)
class Fact:
    """One question: its id, value type, prompt and help, and when it is relevant (ask_if)."""

    id: str
    type: FactType
    prompt: str
    help: str
    choices: tuple[str, ...] = ()
    min: int | None = None
    default: FactValue | None = None
    ask_if: "Condition | None" = None

    @property
    def optional(self) -> bool:
        """Optional facts (with a default) are never prompted; the default is assumed."""
        return self.default is not None

    def describe(self) -> str:
        """The accepted values, for prompts and error messages."""
        if self.type == "bool":
            return "yes/no"
        if self.type == "choice":
            return ", ".join(self.choices)
        return f"an integer >= {self.min}" if self.min is not None else "an integer"

    def parse(self, raw: Any, source: str = "") -> FactValue:
        """Turn a typed value (YAML/JSON) or text (prompt, flag) into this fact's value, or raise."""
        if self.type == "bool":
            if isinstance(raw, bool):
                return raw
            word = str(raw).strip().lower()
            if word in TRUE_WORDS:
                return True
            if word in FALSE_WORDS:
                return False
            raise self._bad(raw, source, None)
        if self.type == "int":
            value = _as_int(raw)
            if value is None:
                raise self._bad(raw, source, None)
            if self.min is not None and value < self.min:
                raise AdvisorError("bad-answer", f"{_prefix(source)}{self.id} must be >= {self.min}, got {value}")
            return value
        word = str(raw).strip().lower() if not isinstance(raw, bool) else str(raw).lower()
        if word in self.choices:
            return word
        # A choice may also be typed as its number in the prompt's list (1-based).
        if word.isdigit() and 1 <= int(word) <= len(self.choices):
            return self.choices[int(word) - 1]
        # Or as an unambiguous prefix ("coop" for cooperative).
        starting = [choice for choice in self.choices if word and choice.startswith(word)]
        if len(starting) == 1:
            return starting[0]
        hint = f"'{word}' could be {' or '.join(starting)}" if len(starting) > 1 else did_you_mean(word, self.choices)
        raise self._bad(raw, source, hint)

    def _bad(self, raw: Any, source: str, hint: str | None) -> AdvisorError:
        message = f"{_prefix(source)}{self.id} must be {self.describe()}, got {raw!r}"
        return AdvisorError("bad-answer", f"{message}; {hint}" if hint else message)


def _prefix(source: str) -> str:
    return f"{source}: " if source else ""


def _as_int(raw: Any) -> int | None:
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return raw
    if isinstance(raw, float) and raw.is_integer():
        return int(raw)
    if isinstance(raw, str):
        try:
            return int(raw.strip())
        except ValueError:
            return None
    return None


def unknown_fact_error(name: str, facts: Mapping[str, Fact], source: str) -> AdvisorError:
    hint = did_you_mean(name, facts)
    message = f"{source}: unknown fact '{name}'"
    if hint:
        return AdvisorError("unknown-fact", f"{message}; {hint}")
    return AdvisorError("unknown-fact", message, f"known facts: {', '.join(facts)}")


def validate_answers(raw: Mapping[str, Any], facts: Mapping[str, Fact], source: str) -> dict[str, FactValue]:
    """Check every key is a fact id and every value parses; returns typed values in facts.yaml order."""
    for name in raw:
        if name not in facts:
            raise unknown_fact_error(str(name), facts, source)
    return {fid: facts[fid].parse(raw[fid], source) for fid in facts if fid in raw and raw[fid] is not None}


def load_answers_file(path: str | Path, facts: Mapping[str, Fact]) -> dict[str, FactValue]:
    """Read answers from YAML or JSON: a mapping of fact ids, or one nested under `answers:`."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise AdvisorError("bad-answers-file", f"cannot read answers file '{path}': {err.strerror or err}") from err
    except UnicodeDecodeError:
        raise AdvisorError("bad-answers-file", f"answers file '{path}' is not UTF-8 text",
                           "an answers file is YAML or JSON: fact: value lines") from None
    try:
        data = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as err:
        raise AdvisorError("bad-answers-file", f"answers file '{path}' is not valid "
                           f"{'JSON' if path.suffix.lower() == '.json' else 'YAML'}: {err}") from err
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise AdvisorError("bad-answers-file", f"answers file '{path}' must hold a mapping of fact: value, "
                           f"not a {type(data).__name__}", "e.g. reward_structure: cooperative")
    if "answers" in data:
        extra = [k for k in data if k not in ANSWERS_FILE_META_KEYS]
        if extra:
            raise AdvisorError("bad-answers-file", f"answers file '{path}': unexpected key '{extra[0]}' next to "
                               f"'answers:'", f"allowed: {', '.join(ANSWERS_FILE_META_KEYS)}")
        data = data["answers"] or {}
        if not isinstance(data, dict):
            raise AdvisorError("bad-answers-file", f"answers file '{path}': 'answers:' must be a mapping")
    return validate_answers(data, facts, f"answers file '{path}'")
