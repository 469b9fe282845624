"""The rule engine: answers -> Recommendation, with a trace of every rule it considered.

`evaluate` is a pure, deterministic function of the answers and the rule set:
1. keep the answers that are relevant (facts.yaml ask_if), assume defaults for optional facts,
   refuse missing or contradictory answers;
2. walk the decision tree (tree.yaml) to a leaf, whose pool gives candidates with base scores;
3. apply every matrix rule (matrix.yaml): firing rules add scores or exclude algorithms;
4. drop candidates the catalogue (algorithms.yaml) says cannot handle the problem;
5. rank the rest (score, then catalogue order) and list the pitfalls (pitfalls.yaml) that apply.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from advisor.errors import AdvisorError
from advisor.facts import FactValue, validate_answers
from advisor.conditions import CondResult
from advisor.ruleset import RECOMMENDED, AlgorithmInfo, RuleSet, load_ruleset


@dataclass(frozen=True)
class RuleFiring:
    """One rule the engine considered: its conditions with the actual values, whether it fired, its effect."""

    stage: str            # tree | leaf | matrix | catalogue | pitfall
    rule: str
    conditions: CondResult | None
    fired: bool | None    # None: a condition was unknown (treated as not firing)
    effect: str
    because: str = ""
    refs: tuple[str, ...] = ()


@dataclass(frozen=True)
class TreeStep:
    node: str
    question: str
    fact: str
    value: FactValue
    goes_to: str          # "node <id>" or "leaf <id>"


@dataclass(frozen=True)
class Reason:
    rule: str
    delta: float
    because: str


@dataclass(frozen=True)
class Ranked:
    algorithm: str
    score: float
    reasons: tuple[Reason, ...]


@dataclass(frozen=True)
class Exclusion:
    rule: str             # matrix rule id, or "catalogue"
    condition: str        # the condition that ruled the algorithm out, with the actual value
    because: str


@dataclass(frozen=True)
class Excluded:
    algorithm: str
    reasons: tuple[Exclusion, ...]


@dataclass(frozen=True)
class PitfallHit:
    id: str
    title: str
    advice: str
    rationalization: str | None
    refs: tuple[str, ...]


@dataclass(frozen=True)
class Recommendation:
    algorithm: str
    score: float
    reasons: tuple[Reason, ...]          # why the top algorithm scored what it did
    leaf: str
    early_exit: bool                     # the tree ended at a final leaf
    path: tuple[TreeStep, ...]
    alternatives: tuple[Ranked, ...]     # best first, top algorithm not included
    excluded: tuple[Excluded, ...]
    pitfalls: tuple[PitfallHit, ...]
    trace: tuple[RuleFiring, ...]
    answers: dict[str, FactValue]        # the relevant answers used, defaults included
    assumed: tuple[str, ...] = ()        # optional facts filled with their default
    ignored: dict[str, FactValue] = field(default_factory=dict)  # given but irrelevant to this path
    tied: tuple[str, ...] = ()           # algorithms with the top score (empty when the top is unique)


# ---------------------------------------------------------------------------------------------------
# Answers: relevance, defaults, missing facts, contradictions


def is_relevant(fact_id: str, values: Mapping[str, Any], ruleset: RuleSet) -> bool | None:
    """True when the fact's ask_if holds for these values, None when it depends on unknown facts."""
    ask_if = ruleset.facts[fact_id].ask_if
    return True if ask_if is None else ask_if.evaluate(values).result


def complete_answers(answers: Mapping[str, FactValue], ruleset: RuleSet
                     ) -> tuple[dict[str, FactValue], tuple[str, ...], dict[str, FactValue]]:
    """(relevant answers with defaults, facts assumed by default, given answers that are irrelevant)."""
    values: dict[str, FactValue] = {}
    assumed: list[str] = []
    ignored: dict[str, FactValue] = {}
    for fid, fact in ruleset.facts.items():  # ask_if only looks at earlier facts, so one pass suffices
        relevant = is_relevant(fid, values, ruleset) is True
        if fid in answers:
            if relevant:
                values[fid] = answers[fid]
            else:
                ignored[fid] = answers[fid]
        elif relevant and fact.optional:
            values[fid] = fact.default  # type: ignore[assignment]
            assumed.append(fid)
    return values, tuple(assumed), ignored


def missing_facts(answers: Mapping[str, FactValue], ruleset: RuleSet) -> tuple[list[str], list[str]]:
    """(facts certainly needed and unanswered, facts that may be needed depending on those)."""
    needed: list[str] = []
    maybe: list[str] = []
    known = {k: v for k, v in answers.items() if k in ruleset.facts}
    for fid, fact in ruleset.facts.items():
        if fid in known or fact.optional:
            continue
        relevant = is_relevant(fid, known, ruleset)
        if relevant is True:
            needed.append(fid)
        elif relevant is None:
            maybe.append(fid)
    return needed, maybe


def check_constraints(values: Mapping[str, FactValue], ruleset: RuleSet) -> None:
    """Raise AdvisorError('contradictory-answers') when answers break a facts.yaml constraint."""
    for constraint in ruleset.constraints:
        if constraint.when.evaluate(values).result is True and constraint.require.evaluate(values).result is False:
            failing = constraint.require.evaluate(values).failing()
            detail = ", ".join(f"{f.text} is false ({f.actual})" for f in failing)
            raise AdvisorError("contradictory-answers", f"{constraint.message}: {detail}",
                               f"constraint '{constraint.id}' in facts.yaml")


# ---------------------------------------------------------------------------------------------------
# Evaluation


def evaluate(answers: Mapping[str, FactValue], ruleset: RuleSet | None = None) -> Recommendation:
    """Recommend an algorithm for these answers (fact id -> value). Pure and deterministic."""
    rs = ruleset or load_ruleset()
    values, assumed, ignored = complete_answers(validate_answers(answers, rs.facts, "answers"), rs)
    needed, _ = missing_facts(values, rs)
    if needed:
        raise AdvisorError("missing-facts", f"missing answers for: {', '.join(needed)}",
                           "answer them with flags (e.g. --" + needed[0].replace("_", "-") + ") or --answers FILE")
    check_constraints(values, rs)

    trace: list[RuleFiring] = []
    path, leaf_id = _walk_tree(values, rs, trace)
    leaf = rs.leaves[leaf_id]
    scores = dict(leaf.pool)
    reasons: dict[str, list[Reason]] = {a: [Reason(f"leaf:{leaf.id}", s, leaf.because)] for a, s in scores.items()}
    trace.append(RuleFiring("leaf", leaf.id, None, True,
                            "pool: " + ", ".join(f"{a} {s:g}" for a, s in leaf.pool.items()), leaf.because, leaf.refs))
    exclusions: dict[str, list[Exclusion]] = {}

    if not leaf.final:  # an early exit needs no matrix: its one algorithm is the answer
        _apply_matrix(values, rs, scores, reasons, exclusions, trace)
        _apply_catalogue(values, rs, scores, exclusions, trace)

    order = {algo: i for i, algo in enumerate(rs.algorithms)}
    ranked = sorted((a for a in scores if a not in exclusions), key=lambda a: (-scores[a], order[a]))
    if not ranked:
        raise AdvisorError("no-recommendation", f"every candidate of leaf '{leaf.id}' was excluded",
                           "run `marl rules check`: the rules leave this combination without an answer")
    top = ranked[0]
    tied = tuple(a for a in ranked[1:] if scores[a] == scores[top])
    pitfalls = _pitfalls(values, top, rs, trace)
    return Recommendation(
        algorithm=top, score=scores[top], reasons=tuple(reasons[top]), leaf=leaf.id, early_exit=leaf.final,
        path=tuple(path),
        alternatives=tuple(Ranked(a, scores[a], tuple(reasons[a])) for a in ranked[1:]),
        excluded=tuple(Excluded(a, tuple(exclusions[a])) for a in sorted(exclusions, key=order.__getitem__)),
        pitfalls=pitfalls, trace=tuple(trace), answers=values, assumed=assumed, ignored=ignored,
        tied=(top,) + tied if tied else (),
    )


def _walk_tree(values: Mapping[str, FactValue], rs: RuleSet, trace: list[RuleFiring]) -> tuple[list[TreeStep], str]:
    path: list[TreeStep] = []
    node = rs.nodes[rs.root]
    while True:
        if node.fact not in values:  # only when facts.yaml's ask_if disagrees with the tree
            raise AdvisorError("missing-facts", f"the decision tree needs '{node.fact}' at node '{node.id}'",
                               f"answer it with --{node.fact.replace('_', '-')}")
        value = values[node.fact]
        kind, target = node.branches[value]
        step = TreeStep(node.id, node.question, node.fact, value, f"{kind} {target}")
        path.append(step)
        trace.append(RuleFiring("tree", node.id, CondResult(f"{node.fact} ?", True, value), True,
                                f"-> {kind} {target}", node.question))
        if kind == "leaf":
            return path, target
        node = rs.nodes[target]


def _apply_matrix(values: Mapping[str, FactValue], rs: RuleSet, scores: dict[str, float],
                  reasons: dict[str, list[Reason]], exclusions: dict[str, list[Exclusion]],
                  trace: list[RuleFiring]) -> None:
    for rule in rs.rules:
        result = rule.when.evaluate(values)
        fired = result.result is True
        trace.append(RuleFiring("matrix", rule.id, result, result.result, rule.effect_text(), rule.because, rule.refs))
        if not fired:
            continue
        for algo, delta in rule.prefer.items():
            scores[algo] = scores.get(algo, 0) + delta
            reasons.setdefault(algo, []).append(Reason(rule.id, delta, rule.because))
        held = _condition_summary(result)
        for algo in rule.exclude:
            scores.setdefault(algo, 0)
            reasons.setdefault(algo, [])
            exclusions.setdefault(algo, []).append(Exclusion(rule.id, held, rule.because))


def _condition_summary(result: CondResult) -> str:
    """The leaf checks of a condition with their actual values: 'nonmonotonic == true (true)'."""
    def leaves(r: CondResult) -> list[CondResult]:
        return [r] if not r.children else [x for c in r.children for x in leaves(c)]
    return " and ".join(f"{leaf.text} ({_fmt(leaf.actual)})" for leaf in leaves(result) if leaf.result)


def _apply_catalogue(values: Mapping[str, FactValue], rs: RuleSet, scores: dict[str, float],
                     exclusions: dict[str, list[Exclusion]], trace: list[RuleFiring]) -> None:
    for algo in sorted(scores, key=list(rs.algorithms).index):
        checks = capability_checks(rs.algorithms[algo], values)
        eligible = all(c.result is True for c in checks)
        summary = CondResult("capabilities", eligible, None, tuple(checks))
        trace.append(RuleFiring("catalogue", algo, summary, eligible,
                                "eligible" if eligible else f"exclude {algo}", rs.algorithms[algo].summary,
                                (rs.algorithms[algo].paper,)))
        for check in checks:
            for leaf in check.failing():
                exclusions.setdefault(algo, []).append(
                    Exclusion("catalogue", f"{leaf.text} (actual: {_fmt(leaf.actual)})",
                              _exclusion_reason(rs.algorithms[algo], leaf)))


def capability_checks(info: AlgorithmInfo, values: Mapping[str, FactValue]) -> list[CondResult]:
    """What the catalogue requires of the problem, evaluated: action space, reward setting, state, requires."""
    def member(fact: str, allowed: frozenset[str]) -> CondResult:
        text = f"{fact} in [{', '.join(sorted(allowed))}]"
        if fact not in values:
            return CondResult(text, None, "unknown")
        return CondResult(text, values[fact] in allowed, values[fact])

    checks = [member("action_space", info.action_spaces - {"multi_discrete"}),
              member("reward_structure", info.reward_settings)]
    if values.get("factorised_actions") is True:  # MultiDiscrete / MultiBinary: only some discrete learners
        checks.append(CondResult("factorised_actions == false", "multi_discrete" in info.action_spaces, True))
    if info.needs_state:
        actual = values.get("centralized_training", "unknown")
        checks.append(CondResult("centralized_training == true (needs global information to train)",
                                 None if actual == "unknown" else actual is True, actual))
    # A built-in check on a fact this path never asked cannot rule an algorithm out (e.g.
    # centralized_training for independent learners). An explicit `requires` must hold, though.
    checks = [c for c in checks if c.result is not None]
    if info.requires is not None:
        checks.append(info.requires.evaluate(values))
    return checks


def _exclusion_reason(info: AlgorithmInfo, leaf: CondResult) -> str:
    """Why the catalogue rules `info` out, in words: what it needs against what this problem is."""
    if leaf.text.startswith("action_space in"):
        return f"{info.name} handles {' and '.join(sorted(info.action_spaces))} actions, not {_fmt(leaf.actual)} ones"
    if leaf.text.startswith("factorised_actions"):
        return f"{info.name} handles one discrete choice per step, not factorised (MultiDiscrete, MultiBinary) actions"
    if leaf.text.startswith("reward_structure in"):
        return f"{info.name} is made for {' or '.join(sorted(info.reward_settings))} rewards, not {_fmt(leaf.actual)} ones"
    if leaf.text.startswith("centralized_training"):
        return f"{info.name} trains with global information, which this problem cannot provide"
    if leaf.actual in (None, "unknown"):
        return f"{info.name} applies only when {leaf.text}, which is not known here"
    return f"{info.name} applies only when {leaf.text}; here it is {_fmt(leaf.actual)}"


def _pitfalls(values: Mapping[str, FactValue], top: str, rs: RuleSet,
              trace: list[RuleFiring]) -> tuple[PitfallHit, ...]:
    scope = {**values, RECOMMENDED: top}
    hits = []
    for pitfall in rs.pitfalls:
        result = pitfall.when.evaluate(scope)
        trace.append(RuleFiring("pitfall", pitfall.id, result, result.result,
                                "warn" if result.result else "no warning", pitfall.title, pitfall.refs))
        if result.result:
            hits.append(PitfallHit(pitfall.id, pitfall.title, pitfall.advice, pitfall.rationalization, pitfall.refs))
    return tuple(hits)


def _fmt(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)
