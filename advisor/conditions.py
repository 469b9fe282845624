"""The condition language shared by facts.yaml (ask_if, constraints), the rules, the catalogue and pitfalls.

    fact: value            equals            fact: [a, b]        one of
    fact: {gte: 100}       also lte gt lt ne in not_in           {a: x, b: y}   both hold
    all: [...]  any: [...]  not: {...}

Conditions evaluate with three values: a condition on a fact that is not answered is unknown (None),
and `all`/`any`/`not` propagate unknowns the usual way (False wins in all, True wins in any). Every
evaluation returns a CondResult tree, which is what the trace shows.
"""
from __future__ import annotations

import functools
import operator
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Union

from advisor.errors import AdvisorError, did_you_mean
from advisor.facts import Fact, FactValue

COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "eq": operator.eq, "ne": operator.ne, "gte": operator.ge, "lte": operator.le, "gt": operator.gt,
    "lt": operator.lt, "in": lambda actual, want: actual in want, "not_in": lambda actual, want: actual not in want,
}
OPS = tuple(COMPARE)
OP_TEXT = {"eq": "==", "ne": "!=", "in": "in", "not_in": "not in", "gte": ">=", "lte": "<=", "gt": ">", "lt": "<"}


@dataclass(frozen=True)
class Where:
    """Names the place being validated, so every error says file, kind and id."""

    file: str
    kind: str = ""
    id: str = ""

    def error(self, message: str, hint: str | None = None) -> AdvisorError:
        place = f"{self.file}: {self.kind} '{self.id}'" if self.id else self.file
        text = f"{place}: {message}"
        return AdvisorError("bad-rules", f"{text}; {hint}" if hint else text)

    def at(self, kind: str, ident: Any) -> "Where":
        return Where(self.file, kind, str(ident))



@dataclass(frozen=True)
class CondResult:
    """How one condition evaluated: its text, result (None: unknown), the actual value, sub-results."""

    text: str
    result: bool | None
    actual: Any = None
    children: tuple["CondResult", ...] = ()

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"condition": self.text, "result": self.result}
        if not self.children:
            out["actual"] = self.actual
        else:
            out["parts"] = [c.to_dict() for c in self.children]
        return out

    def failing(self) -> list["CondResult"]:
        """The leaf checks that made this condition not true (False or unknown)."""
        if self.result is True:
            return []
        if not self.children:
            return [self]
        return [leaf for child in self.children for leaf in child.failing()] or [self]


@dataclass(frozen=True)
class Check:
    """A leaf condition: `fact op value`."""

    fact: str
    op: str
    value: Any

    @functools.cached_property  # computed once: conditions are evaluated thousands of times by the check
    def text(self) -> str:
        return f"{self.fact} {OP_TEXT[self.op]} {format_value(self.value)}"

    def evaluate(self, values: Mapping[str, Any]) -> CondResult:
        if self.fact not in values:
            return CondResult(self.text, None, "unknown")
        actual = values[self.fact]
        return CondResult(self.text, bool(COMPARE[self.op](actual, self.value)), actual)

    def facts(self) -> set[str]:
        return {self.fact}

    def checks(self) -> list["Check"]:
        return [self]


@dataclass(frozen=True)
class AllOf:
    items: tuple["Condition", ...]

    def evaluate(self, values: Mapping[str, Any]) -> CondResult:
        parts = tuple(item.evaluate(values) for item in self.items)
        results = [p.result for p in parts]
        result = False if False in results else (None if None in results else True)
        return CondResult("all of", result, None, parts)

    def facts(self) -> set[str]:
        return set().union(*(item.facts() for item in self.items))

    def checks(self) -> list[Check]:
        return [c for item in self.items for c in item.checks()]


@dataclass(frozen=True)
class AnyOf:
    items: tuple["Condition", ...]

    def evaluate(self, values: Mapping[str, Any]) -> CondResult:
        parts = tuple(item.evaluate(values) for item in self.items)
        results = [p.result for p in parts]
        result = True if True in results else (None if None in results else False)
        return CondResult("any of", result, None, parts)

    def facts(self) -> set[str]:
        return set().union(*(item.facts() for item in self.items))

    def checks(self) -> list[Check]:
        return [c for item in self.items for c in item.checks()]


@dataclass(frozen=True)
class Not:
    item: "Condition"

    def evaluate(self, values: Mapping[str, Any]) -> CondResult:
        part = self.item.evaluate(values)
        return CondResult("not", None if part.result is None else not part.result, None, (part,))

    def facts(self) -> set[str]:
        return self.item.facts()

    def checks(self) -> list[Check]:
        return self.item.checks()


Condition = Union[Check, AllOf, AnyOf, Not]


def format_value(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(format_value(v) for v in value) + "]"
    return str(value)


def parse_condition(raw: Any, facts: Mapping[str, Fact], where: Where) -> Condition:
    """Parse the condition syntax (module docstring) and check every fact, operator and value."""
    if not isinstance(raw, dict) or not raw:
        raise where.error(f"a condition must be a non-empty mapping, got {raw!r}")
    items: list[Condition] = []
    for key, value in raw.items():
        if key in ("all", "any"):
            if not isinstance(value, list) or not value:
                raise where.error(f"'{key}:' must be a non-empty list of conditions")
            parts = tuple(parse_condition(v, facts, where) for v in value)
            items.append(AllOf(parts) if key == "all" else AnyOf(parts))
        elif key == "not":
            items.append(Not(parse_condition(value, facts, where)))
        else:
            items.append(_parse_check(str(key), value, facts, where))
    return items[0] if len(items) == 1 else AllOf(tuple(items))


def _parse_check(name: str, raw: Any, facts: Mapping[str, Fact], where: Where) -> Check:
    fact = facts.get(name)
    if fact is None:
        hint = did_you_mean(name, list(facts) + ["all", "any", "not"])
        raise where.error(f"unknown fact '{name}'", hint)
    if isinstance(raw, dict):
        if len(raw) != 1:
            raise where.error(f"'{name}: {raw}' must have exactly one operator ({', '.join(OPS)})")
        op, operand = next(iter(raw.items()))
        if op not in OPS:
            raise where.error(f"unknown operator '{op}' for fact '{name}'", did_you_mean(str(op), OPS))
    elif isinstance(raw, list):
        op, operand = "in", raw
    else:
        op, operand = "eq", raw
    if op in ("in", "not_in"):
        if not isinstance(operand, list) or not operand:
            raise where.error(f"'{op}' for fact '{name}' needs a non-empty list")
        return Check(name, op, tuple(_check_value(fact, v, where) for v in operand))
    if op in ("gte", "lte", "gt", "lt") and fact.type != "int":
        raise where.error(f"operator '{op}' needs an integer fact; '{name}' is {fact.type}")
    return Check(name, op, _check_value(fact, operand, where))


def _check_value(fact: Fact, value: Any, where: Where) -> FactValue:
    """A value in a condition must be exactly of the fact's type (no 'yes' for true in rule files)."""
    if fact.type == "bool" and isinstance(value, bool):
        return value
    if fact.type == "int" and isinstance(value, int) and not isinstance(value, bool):
        return value
    if fact.type == "choice" and value in fact.choices:
        return value
    hint = did_you_mean(str(value), fact.choices) if fact.type == "choice" else None
    raise where.error(f"unknown value {value!r} for fact '{fact.id}' (expected {fact.describe()})", hint)


def describe_condition(cond: Condition) -> str:
    """A condition as one readable line: 'reward_structure == cooperative and (a or b)'."""
    if isinstance(cond, Check):
        return cond.text
    if isinstance(cond, Not):
        return f"not ({describe_condition(cond.item)})"
    joiner = " and " if isinstance(cond, AllOf) else " or "
    parts = [describe_condition(item) for item in cond.items]
    return joiner.join(p if isinstance(item, Check) else f"({p})" for p, item in zip(parts, cond.items))
