"""The loaded rule set as typed objects (facts.yaml, tree.yaml, matrix.yaml, algorithms.yaml, pitfalls.yaml);
advisor/ruleset.py reads and validates the files into these."""
from __future__ import annotations

from dataclasses import dataclass

from advisor.conditions import Condition
from advisor.facts import Fact, FactValue


@dataclass(frozen=True)
class Constraint:
    id: str
    when: Condition
    require: Condition
    message: str


@dataclass(frozen=True)
class TreeNode:
    id: str
    fact: str
    question: str
    branches: dict[FactValue, tuple[str, str]]  # value -> ("node" | "leaf", id)


@dataclass(frozen=True)
class TreeLeaf:
    id: str
    pool: dict[str, float]  # algorithm -> base score
    final: bool
    because: str
    refs: tuple[str, ...]


@dataclass(frozen=True)
class Rule:
    id: str
    when: Condition
    prefer: dict[str, float]
    exclude: tuple[str, ...]
    because: str
    refs: tuple[str, ...]

    def effect_text(self) -> str:
        parts = [f"{algo} {score:+g}" for algo, score in self.prefer.items()]
        parts += [f"exclude {algo}" for algo in self.exclude]
        return ", ".join(parts)


@dataclass(frozen=True)
class AlgorithmInfo:
    id: str
    name: str
    paper: str
    bundled: bool
    summary: str
    action_spaces: frozenset[str]
    reward_settings: frozenset[str]
    policy_type: str
    needs_state: bool
    requires: Condition | None = None
    train: tuple[str, ...] = ()  # `marl train` options the advisor's next command carries (measured settings)


@dataclass(frozen=True)
class Pitfall:
    id: str
    when: Condition
    title: str
    advice: str
    rationalization: str | None
    refs: tuple[str, ...]


@dataclass(frozen=True)
class RuleSet:
    facts: dict[str, Fact]  # in asking order
    constraints: tuple[Constraint, ...]
    root: str
    nodes: dict[str, TreeNode]
    leaves: dict[str, TreeLeaf]
    rules: tuple[Rule, ...]
    algorithms: dict[str, AlgorithmInfo]  # catalogue order
    pitfalls: tuple[Pitfall, ...]
    source: str = "rules"


