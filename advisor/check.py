"""`marl rules check`: prove the rules give exactly one answer everywhere, and find dead rules.

The enumeration follows the questionnaire: facts are visited in facts.yaml order and a fact is
branched on only when its ask_if holds, so every combination checked is one a user can produce.
Integer facts (n_agents) take the buckets given plus the values either side of every threshold the
rules use, so each region between thresholds is covered.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Iterator, Mapping

from advisor.engine import check_constraints, evaluate, is_relevant
from advisor.errors import AdvisorError, MARLError
from advisor.facts import FactValue
from advisor.conditions import Check
from advisor.ruleset import RuleSet

DEFAULT_N_AGENTS_BUCKETS = (1, 2, 5, 20, 200)


@dataclass
class CheckReport:
    combinations: int = 0
    contradictory: int = 0                                    # skipped: they break a facts.yaml constraint
    int_values: dict[str, tuple[int, ...]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)         # no/tied top, undecidable rules, registry
    unreachable_rules: list[str] = field(default_factory=list)
    unreachable_tree: list[str] = field(default_factory=list)
    unused_pitfalls: list[str] = field(default_factory=list)
    never_recommended: list[str] = field(default_factory=list)  # catalogue entries never the top pick
    top_counts: Counter = field(default_factory=Counter)
    registry_checked: bool = False

    @property
    def ok(self) -> bool:
        return not (self.problems or self.unreachable_rules or self.unreachable_tree or self.unused_pitfalls
                    or self.never_recommended)


def int_buckets(rs: RuleSet, fact_id: str, base: tuple[int, ...]) -> tuple[int, ...]:
    """The base buckets plus both sides of every threshold the rules put on this integer fact."""
    values = set(base)
    for check in _all_checks(rs):
        if check.fact == fact_id and isinstance(check.value, int):
            values.update({check.value - 1, check.value, check.value + 1})
    minimum = rs.facts[fact_id].min
    return tuple(sorted(v for v in values if minimum is None or v >= minimum))


def _all_checks(rs: RuleSet) -> list[Check]:
    conditions = [f.ask_if for f in rs.facts.values() if f.ask_if is not None]
    conditions += [r.when for r in rs.rules] + [p.when for p in rs.pitfalls]
    conditions += [a.requires for a in rs.algorithms.values() if a.requires is not None]
    conditions += [c.when for c in rs.constraints] + [c.require for c in rs.constraints]
    return [check for cond in conditions for check in cond.checks()]


def enumerate_answers(rs: RuleSet, int_values: Mapping[str, tuple[int, ...]]) -> Iterator[dict[str, FactValue]]:
    """Every answer set the questionnaire can produce (relevant facts only)."""
    fact_ids = list(rs.facts)

    def walk(i: int, values: dict[str, FactValue]) -> Iterator[dict[str, FactValue]]:
        if i == len(fact_ids):
            yield dict(values)
            return
        fact = rs.facts[fact_ids[i]]
        if is_relevant(fact.id, values, rs) is not True:
            yield from walk(i + 1, values)
            return
        options: tuple[Any, ...] = ((False, True) if fact.type == "bool" else fact.choices if fact.type == "choice"
                                    else int_values[fact.id])
        for option in options:
            values[fact.id] = option
            yield from walk(i + 1, values)
        del values[fact.id]

    yield from walk(0, {})


def check_rules(rs: RuleSet, registry: Mapping[str, Any] | None = None,
                n_agents_buckets: tuple[int, ...] = DEFAULT_N_AGENTS_BUCKETS) -> CheckReport:
    """Evaluate every combination; report ties, gaps, undecidable and unreachable rules, registry drift."""
    report = CheckReport()
    report.int_values = {fid: int_buckets(rs, fid, n_agents_buckets) for fid, f in rs.facts.items() if f.type == "int"}
    fired: set[str] = set()
    reached: set[str] = set()
    warned: set[str] = set()
    problems: dict[str, list] = {}  # message -> [first combination showing it, how many show it]

    def problem(message: str, answers: Mapping[str, FactValue]) -> None:
        problems.setdefault(message, [_short(answers), 0])[1] += 1

    for answers in enumerate_answers(rs, report.int_values):
        try:
            check_constraints(answers, rs)
        except AdvisorError:
            report.contradictory += 1
            continue
        report.combinations += 1
        try:
            rec = evaluate(answers, rs)
        except AdvisorError as err:
            problem(err.message, answers)
            continue
        report.top_counts[rec.algorithm] += 1
        if rec.tied:
            problem(f"no single top recommendation: {', '.join(rec.tied)} tie at {rec.score:g}", answers)
        for firing in rec.trace:
            if firing.stage in ("tree", "leaf"):
                reached.add(firing.rule)
            elif firing.stage == "matrix":
                if firing.fired:
                    fired.add(firing.rule)
                elif firing.fired is None:
                    problem(f"rule '{firing.rule}' is undecidable: it reads a fact this path never asks", answers)
            elif firing.stage == "pitfall" and firing.fired:
                warned.add(firing.rule)

    for message, (example, count) in problems.items():
        more = f" (and {count - 1} more combinations)" if count > 1 else ""
        report.problems.append(f"{message}, e.g. for {example}{more}")
    report.unreachable_rules = [r.id for r in rs.rules if r.id not in fired]
    report.unreachable_tree = [i for i in [*rs.nodes, *rs.leaves] if i not in reached]
    report.unused_pitfalls = [p.id for p in rs.pitfalls if p.id not in warned]
    report.never_recommended = [a for a in rs.algorithms if a not in report.top_counts]
    if registry is not None:
        report.registry_checked = True
        report.problems += check_registry(rs, registry)
    return report


def _short(answers: Mapping[str, FactValue]) -> str:
    return "{" + ", ".join(f"{k}={str(v).lower() if isinstance(v, bool) else v}" for k, v in answers.items()) + "}"


def check_registry(rs: RuleSet, registry: Mapping[str, Any]) -> list[str]:
    """The catalogue must agree with the algorithms registry: bundled flags and capability ClassVars."""
    problems = []
    for algo_id in registry:
        if algo_id not in rs.algorithms:
            problems.append(f"registry algorithm '{algo_id}' is missing from algorithms.yaml")
        elif not rs.algorithms[algo_id].bundled:
            problems.append(f"algorithms.yaml marks '{algo_id}' as not bundled, but the registry has it")
    for info in rs.algorithms.values():
        if not info.bundled:
            continue
        if info.id not in registry:
            problems.append(f"algorithms.yaml marks '{info.id}' as bundled, but the registry has no '{info.id}'")
            continue
        config = registry[info.id].config_cls
        declared = {"action_spaces": info.action_spaces, "reward_settings": info.reward_settings,
                    "policy_type": info.policy_type, "needs_state": info.needs_state}
        for name, value in declared.items():
            actual = getattr(config, name, None)
            if isinstance(actual, (set, frozenset)):
                actual = frozenset(actual)
            if actual != value:
                problems.append(f"'{info.id}': algorithms.yaml says {name} = {_show(value)}, "
                                f"but {config.__name__}.{name} = {_show(actual)}")
        problems += _check_train_settings(info.id, info.train, config)
    return problems


def _check_train_settings(algo_id: str, options: tuple[str, ...], config_cls: type) -> list[str]:
    """Every `--set KEY=VALUE` the catalogue's train block carries must be a valid value of a config field."""
    from algorithms.base import apply_overrides

    settings = dict(o.removeprefix("--set ").split("=", 1) for o in options if o.startswith("--set "))
    if not settings:
        return []
    try:
        apply_overrides(config_cls(), settings, source=f"algorithms.yaml train.set of '{algo_id}'")
    except MARLError as err:
        return [err.message]
    return []


def _show(value: Any) -> str:
    if isinstance(value, frozenset):
        return "[" + ", ".join(sorted(value)) + "]"
    return str(value).lower() if isinstance(value, bool) else str(value)


def load_registry() -> Mapping[str, Any] | None:
    """The algorithms registry, or None while the `algorithms` package cannot be imported."""
    try:
        from algorithms import ALGORITHMS
    except ImportError:
        return None
    return ALGORITHMS
