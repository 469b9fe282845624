"""The engine (evaluate), the exhaustive rules check, the registry check and the interview loop."""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import pytest

from advisor.check import DEFAULT_N_AGENTS_BUCKETS, check_registry, check_rules, enumerate_answers, int_buckets
from advisor.engine import complete_answers, evaluate, missing_facts
from advisor.errors import AdvisorError
from advisor.questionnaire import interview, next_fact
from advisor.ruleset import load_ruleset
from tests.helpers import edit

QMIX_CASE = dict(multiple_learners=True, interdependent=True, reward_structure="cooperative", coordination=True,
                 n_agents=5, action_space="discrete", observability="full", centralized_training=True,
                 communication=False, nonmonotonic=False, sample_budget="expensive")






# --- evaluate ------------------------------------------------------------------------------------


def test_evaluate_recommends_and_ranks():
    rec = evaluate(QMIX_CASE)
    assert rec.algorithm == "qmix" and rec.leaf == "cooperative" and not rec.early_exit
    scores = [rec.score] + [alt.score for alt in rec.alternatives]
    assert scores == sorted(scores, reverse=True) and rec.score > scores[1]
    assert rec.alternatives[0].algorithm == "mappo"
    assert {r.rule for r in rec.reasons} == {"leaf:cooperative", "cooperative-discrete-qmix"}
    assert rec.tied == ()


def test_evaluate_is_deterministic():
    assert evaluate(QMIX_CASE) == evaluate(dict(reversed(list(QMIX_CASE.items()))))


def test_trace_covers_every_rule_with_actual_values():
    rs = load_ruleset()
    rec = evaluate(QMIX_CASE)
    matrix = [t for t in rec.trace if t.stage == "matrix"]
    assert [t.rule for t in matrix] == [r.id for r in rs.rules]  # every rule considered, in file order
    assert [t.rule for t in rec.trace if t.stage == "pitfall"] == [p.id for p in rs.pitfalls]
    assert [t.rule for t in rec.trace if t.stage == "tree"] == [
        "learners", "interdependence", "structure", "coordination-cooperative"]
    fired = {t.rule: t for t in matrix if t.fired}
    assert set(fired) == {"cooperative-discrete-qmix"}
    parts = fired["cooperative-discrete-qmix"].conditions.to_dict()["parts"]
    assert {"condition": "action_space == discrete", "result": True, "actual": "discrete"} in parts
    unfired = next(t for t in matrix if t.rule == "cooperative-continuous-actor-critic")
    assert unfired.fired is False and unfired.effect == "mappo +10, maddpg +8"
    assert {"condition": "action_space == continuous", "result": False, "actual": "discrete"} in \
        unfired.conditions.to_dict()["parts"]


def test_excluded_algorithms_name_the_failing_condition():
    rec = evaluate({**QMIX_CASE, "nonmonotonic": True})
    assert rec.algorithm == "qplex"
    excluded = {e.algorithm: e.reasons for e in rec.excluded}
    assert {r.rule for r in excluded["qmix"]} == {"nonmonotonic-payoffs"}
    assert "nonmonotonic == true (true)" in excluded["vdn"][0].condition
    assert "communication == true (actual: false)" == excluded["commnet"][0].condition


def test_catalogue_capabilities_exclude_with_actual_value():
    case = {k: v for k, v in QMIX_CASE.items() if k != "nonmonotonic"} | {"action_space": "continuous"}
    rec = evaluate(case)
    assert rec.algorithm == "maddpg"  # expensive samples: off-policy critic
    qmix = next(e for e in rec.excluded if e.algorithm == "qmix")
    assert qmix.reasons[0].rule == "catalogue"
    assert qmix.reasons[0].condition == "action_space in [discrete] (actual: continuous)"
    catalogue = next(t for t in rec.trace if t.stage == "catalogue" and t.rule == "qmix")
    assert catalogue.fired is False and catalogue.effect == "exclude qmix"


def test_needs_state_requires_centralised_training():
    # nonmonotonic is only asked with centralised training, so it is left out here.
    case = {k: v for k, v in QMIX_CASE.items() if k != "nonmonotonic"} | {"centralized_training": False}
    rec = evaluate(case)
    assert rec.algorithm in ("ippo", "iql")
    mappo = next(e for e in rec.excluded if e.algorithm == "mappo")
    assert "centralized_training == true" in mappo.reasons[0].condition


def test_early_exit_skips_the_matrix():
    rec = evaluate({"multiple_learners": False})
    assert rec.algorithm == "single_agent" and rec.early_exit and rec.alternatives == ()
    assert not [t for t in rec.trace if t.stage in ("matrix", "catalogue")]
    assert [p.id for p in rec.pitfalls] == ["others-really-fixed"]


def test_irrelevant_answers_are_ignored_and_defaults_assumed():
    rec = evaluate({"multiple_learners": True, "interdependent": False, "n_agents": 4, "action_space": "discrete"})
    assert rec.algorithm == "independent"
    assert rec.ignored == {"n_agents": 4, "action_space": "discrete"}
    assert evaluate(QMIX_CASE).assumed == ("factorised_actions", "global_state")
    assert evaluate(QMIX_CASE).answers["global_state"] is True


def test_missing_and_contradictory_answers():
    with pytest.raises(AdvisorError) as info:
        evaluate({"multiple_learners": True, "interdependent": True})
    assert info.value.code == "missing-facts"
    assert info.value.message == "missing answers for: reward_structure, n_agents, action_space, sample_budget"
    with pytest.raises(AdvisorError) as info:
        evaluate({**QMIX_CASE, "n_agents": 1})
    assert info.value.code == "contradictory-answers" and "n_agents >= 2 is false (1)" in info.value.message


def test_evaluate_validates_answers():
    with pytest.raises(AdvisorError, match="answers: unknown fact 'reward_structur'; did you mean 'reward_structure'?"):
        evaluate({**QMIX_CASE, "reward_structur": "cooperative"})
    with pytest.raises(AdvisorError, match="answers: action_space must be discrete, continuous, got 'discrte'"):
        evaluate({**QMIX_CASE, "action_space": "discrte"})
    assert evaluate({**QMIX_CASE, "coordination": "yes", "n_agents": "5"}).algorithm == "qmix"  # text is parsed


def test_missing_facts_splits_certain_and_possible():
    needed, maybe = missing_facts({"reward_structure": "competitive"}, load_ruleset())
    assert needed == ["multiple_learners"]
    assert "turn_based" in maybe and "communication" not in maybe  # communication is never asked when competitive


def test_complete_answers_keeps_file_order():
    values, assumed, ignored = complete_answers(dict(reversed(list(QMIX_CASE.items()))), load_ruleset())
    assert list(values) == [f for f in load_ruleset().facts if f in values]


def test_pitfalls_depend_on_recommendation():
    rec = evaluate(QMIX_CASE)
    ids = {p.id for p in rec.pitfalls}
    assert {"check-monotonicity", "stale-replay", "credit-assignment"} <= ids
    assert "self-play-cycling" not in ids
    monotonic = next(p for p in rec.pitfalls if p.id == "check-monotonicity")
    assert monotonic.rationalization == '"QMIX should work everywhere"'


def test_large_population_prefers_scalable_methods():
    rec = evaluate({**QMIX_CASE, "n_agents": 500})
    assert rec.algorithm == ("mfac" if QMIX_CASE["sample_budget"] == "cheap" else "mfq")
    assert "many-agents" in {p.id for p in rec.pitfalls}
    assert "maddpg" in {e.algorithm for e in rec.excluded}


# --- rules check ---------------------------------------------------------------------------------


def test_rules_check_passes_on_the_shipped_rules():
    """The exhaustive enumeration: every answer combination has exactly one top recommendation."""
    rs = load_ruleset()
    report = check_rules(rs, None)
    assert report.ok, (report.problems, report.unreachable_rules, report.unused_pitfalls, report.never_recommended)
    assert report.combinations > 2000 and report.contradictory > 0
    assert set(report.top_counts) == set(rs.algorithms)  # every catalogue entry is reachable
    assert sum(report.top_counts.values()) == report.combinations


def test_int_buckets_include_both_sides_of_every_threshold():
    values = int_buckets(load_ruleset(), "n_agents", DEFAULT_N_AGENTS_BUCKETS)
    assert {1, 2, 5, 20, 200} <= set(values)
    assert {99, 100, 101, 3} <= set(values)  # thresholds gte 100 and lte 2 / gte 2
    assert min(values) >= 1


def test_enumeration_only_sets_relevant_facts():
    rs = load_ruleset()
    combos = list(enumerate_answers(rs, {"n_agents": (2, 200)}))
    assert {"multiple_learners": False} in combos
    assert {"multiple_learners": True, "interdependent": False} in combos
    assert all("communication" not in c for c in combos if c.get("reward_structure") == "competitive")
    assert all("nonmonotonic" not in c for c in combos if c.get("action_space") == "continuous")


def test_rules_check_reports_ties(rules_copy):
    # With cheap samples: qmix = 3 (leaf) + 9, mappo = 2 (leaf) + 10, a tie.
    edit(rules_copy, "matrix.yaml", "prefer: {qmix: 10}", "prefer: {qmix: 9}")
    edit(rules_copy, "matrix.yaml", "prefer: {mappo: 3}", "prefer: {mappo: 10}")
    report = check_rules(load_ruleset(rules_copy), None)
    assert not report.ok
    assert any(p.startswith("no single top recommendation: qmix, mappo tie at 12") for p in report.problems)
    rec = evaluate({**QMIX_CASE, "sample_budget": "cheap"}, load_ruleset(rules_copy))
    assert rec.tied == ("qmix", "mappo") and rec.algorithm == "qmix"  # catalogue order breaks the tie


def test_rules_check_reports_unreachable_rules(rules_copy):
    (rules_copy / "matrix.yaml").write_text((rules_copy / "matrix.yaml").read_text() + """
  - id: never
    when: {multiple_learners: false, reward_structure: cooperative}
    prefer: {qmix: 1}
    because: Cannot fire.
    refs: [test]
""")
    report = check_rules(load_ruleset(rules_copy), None)
    assert report.unreachable_rules == ["never"] and not report.ok


def test_rules_check_reports_undecidable_rules(rules_copy):
    # observability is never asked when no coordination is needed, so this rule cannot be decided there.
    (rules_copy / "matrix.yaml").write_text((rules_copy / "matrix.yaml").read_text() + """
  - id: reads-unasked-fact
    when: {coordination: false, observability: partial}
    prefer: {iql: 1}
    because: Reads a fact that is not asked on its path.
    refs: [test]
""")
    report = check_rules(load_ruleset(rules_copy), None)
    assert any("rule 'reads-unasked-fact' is undecidable" in p for p in report.problems)


def test_rules_check_reports_empty_pools(rules_copy):
    edit(rules_copy, "tree.yaml", "pool: {ippo: 2, iql: 1, mfq: 0, mfac: 0}", "pool: {qmix: 2}")
    report = check_rules(load_ruleset(rules_copy), None)
    assert any("every candidate of leaf 'independent-learners' was excluded" in p for p in report.problems)


# --- catalogue vs registry -------------------------------------------------------------------------


@dataclass(frozen=True)
class FakeEntry:
    config_cls: type


def fake_config(name: str, spaces: set[str], settings: set[str], policy: str, state: bool) -> type:
    class Config:
        action_spaces: ClassVar[frozenset[str]] = frozenset(spaces)
        reward_settings: ClassVar[frozenset[str]] = frozenset(settings)
        policy_type: ClassVar[str] = policy
        needs_state: ClassVar[bool] = state
    Config.__name__ = name
    return Config


def matching_registry() -> dict[str, FakeEntry]:
    """A fake registry holding exactly the catalogue's bundled algorithms, with its declared capabilities."""
    return {a.id: FakeEntry(fake_config(f"{a.id}Config", set(a.action_spaces), set(a.reward_settings),
                                        a.policy_type, a.needs_state))
            for a in load_ruleset().algorithms.values() if a.bundled}


def test_registry_check_accepts_a_matching_registry():
    assert check_registry(load_ruleset(), matching_registry()) == []


def test_registry_check_finds_every_kind_of_drift():
    registry = matching_registry()
    registry["ippo"] = FakeEntry(fake_config("IPPOConfig", {"discrete"}, {"cooperative", "competitive", "mixed"},
                                             "off-policy", False))
    registry["hybrid"] = FakeEntry(fake_config("HybridConfig", {"discrete"}, {"cooperative"}, "off-policy", False))
    registry["newalgo"] = FakeEntry(fake_config("NewConfig", {"discrete"}, {"cooperative"}, "on-policy", False))
    del registry["mappo"]
    problems = check_registry(load_ruleset(), registry)
    assert "'ippo': algorithms.yaml says action_spaces = [continuous, discrete, multi_discrete], but " \
           "IPPOConfig.action_spaces = [discrete]" in problems
    assert "'ippo': algorithms.yaml says policy_type = on-policy, but IPPOConfig.policy_type = off-policy" in problems
    assert "algorithms.yaml marks 'hybrid' as not bundled, but the registry has it" in problems
    assert "registry algorithm 'newalgo' is missing from algorithms.yaml" in problems
    assert "algorithms.yaml marks 'mappo' as bundled, but the registry has no 'mappo'" in problems


def test_registry_check_against_the_real_registry():
    algorithms = pytest.importorskip("algorithms")
    assert check_registry(load_ruleset(), algorithms.ALGORITHMS) == []
    report = check_rules(load_ruleset(), algorithms.ALGORITHMS, n_agents_buckets=(2,))
    assert report.registry_checked


# --- interview loop --------------------------------------------------------------------------------


class Script:
    """An `ask` function that answers from a dict and records what was asked, with the suggestion offered."""

    def __init__(self, answers: dict):
        self.answers, self.asked = dict(answers), []

    def __call__(self, fact, suggested):
        self.asked.append((fact.id, suggested))
        return self.answers[fact.id]


def test_interview_asks_only_relevant_facts_in_order():
    script = Script(QMIX_CASE)
    answers = interview({}, load_ruleset(), script)
    assert [fid for fid, _ in script.asked] == list(QMIX_CASE)
    assert evaluate(answers).algorithm == "qmix"


def test_interview_early_exit_asks_one_question():
    script = Script({"multiple_learners": False})
    assert interview({}, load_ruleset(), script) == {"multiple_learners": False}
    assert script.asked == [("multiple_learners", None)]


def test_interview_with_everything_given_asks_nothing():
    script = Script({})
    assert interview(QMIX_CASE, load_ruleset(), script) == QMIX_CASE and script.asked == []


def test_interview_offers_detected_values_and_skips_optional_facts():
    script = Script({**QMIX_CASE, "reward_structure": "mixed", "turn_based": False, "opponent_predictable": False})
    detected = {"n_agents": 5, "reward_structure": "cooperative", "global_state": False, "turn_based": False}
    answers = interview({}, load_ruleset(), script, detected)
    asked = dict(script.asked)
    assert asked["n_agents"] == 5 and asked["reward_structure"] == "cooperative"  # offered as suggestions
    assert "global_state" not in asked  # optional: taken from detection without asking
    assert answers["reward_structure"] == "mixed" and answers["global_state"] is False  # the user overrode one


def test_interview_reasks_a_contradicting_answer():
    answers = {**QMIX_CASE}
    replies = iter([1, 3])
    errors = []

    def ask(fact, suggested):
        return next(replies) if fact.id == "n_agents" else answers[fact.id]

    result = interview({}, load_ruleset(), ask, on_error=errors.append)
    assert result["n_agents"] == 3 and len(errors) == 1
    assert errors[0].code == "contradictory-answers"


def test_next_fact_respects_ask_if():
    rs = load_ruleset()
    assert next_fact({}, rs).id == "multiple_learners"
    assert next_fact({"multiple_learners": True, "interdependent": False}, rs) is None
    competitive = {"multiple_learners": True, "interdependent": True, "reward_structure": "competitive"}
    assert next_fact(competitive, rs).id == "n_agents"  # coordination is not asked for competitive games
