"""Loading and validating rules/*.yaml and answers files: the shipped rules, and every error's exact shape."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from advisor.errors import AdvisorError
from advisor.facts import load_answers_file, validate_answers
from advisor.conditions import AllOf, AnyOf, Check, Not
from advisor.ruleset import load_ruleset
from tests.helpers import edit

ISSUE_FACTS = {
    "multiple_learners": ("bool", ()), "interdependent": ("bool", ()), "coordination": ("bool", ()),
    "reward_structure": ("choice", ("cooperative", "competitive", "mixed")),
    "action_space": ("choice", ("discrete", "continuous")), "observability": ("choice", ("full", "partial")),
    "n_agents": ("int", ()), "communication": ("bool", ()), "centralized_training": ("bool", ()),
    "nonmonotonic": ("bool", ()), "sample_budget": ("choice", ("cheap", "expensive")),
    "turn_based": ("bool", ()), "opponent_predictable": ("bool", ()),
}
ISSUE_ALGORITHMS = {"single_agent", "independent", "iql", "ippo", "vdn", "qmix", "qplex", "mappo", "maddpg",
                    "commnet", "self_play", "opponent_modeling", "nash_q", "mfq", "mfac", "hybrid"}






def load_error(rules_dir: Path) -> AdvisorError:
    with pytest.raises(AdvisorError) as info:
        load_ruleset(rules_dir)
    assert info.value.code == "bad-rules"
    return info.value


# --- The shipped rules ---------------------------------------------------------------------------


def test_shipped_facts_match_the_issue_table():
    rs = load_ruleset()
    for fid, (kind, choices) in ISSUE_FACTS.items():
        assert rs.facts[fid].type == kind
        assert rs.facts[fid].choices == choices
        assert not rs.facts[fid].optional, f"{fid} is an issue fact and must be asked, not defaulted"
    assert rs.facts["n_agents"].min == 1
    # Facts beyond the issue's table need defaults so answers files without them still work.
    for fid in set(rs.facts) - set(ISSUE_FACTS):
        assert rs.facts[fid].optional, f"extra fact {fid} has no default"


def test_shipped_catalogue_is_exactly_the_issue_algorithms():
    rs = load_ruleset()
    assert set(rs.algorithms) == ISSUE_ALGORITHMS
    for info in rs.algorithms.values():
        assert info.name and info.paper and info.action_spaces and info.reward_settings


def test_every_rule_and_pitfall_explains_itself():
    rs = load_ruleset()
    assert len(rs.rules) >= 15 and len(rs.pitfalls) >= 15
    for item in [*rs.rules, *rs.pitfalls, *rs.leaves.values()]:
        assert item.refs and all(ref.strip() for ref in item.refs)
    for rule in rs.rules:
        assert rule.because.endswith(".") and (rule.prefer or rule.exclude)
    ids = [r.id for r in rs.rules]
    assert len(ids) == len(set(ids))


def test_rules_beyond_the_seed_cite_the_literature():
    rs = load_ruleset()
    cited = " ".join(ref for rule in rs.rules for ref in rule.refs)
    for source in ("Yu et al. 2022", "Papoudakis et al. 2021", "Son et al. 2019", "Wang et al. 2021",
                   "Yang et al. 2018", "Lanctot et al. 2017", "He et al. 2016", "Hu & Wellman 2003",
                   "Sukhbaatar et al. 2016", "Lowe et al. 2017", "de Witt et al. 2020"):
        assert source in cited, source


def test_default_ruleset_is_cached_and_a_custom_dir_is_not(rules_copy):
    assert load_ruleset() is load_ruleset()
    assert load_ruleset(rules_copy) is not load_ruleset(rules_copy)


def test_ask_if_conditions_are_parsed_with_three_valued_logic():
    rs = load_ruleset()
    ask_if = rs.facts["observability"].ask_if
    assert ask_if.evaluate({"multiple_learners": True, "interdependent": True,
                            "reward_structure": "competitive"}).result is True
    assert ask_if.evaluate({"multiple_learners": True, "interdependent": True,
                            "reward_structure": "cooperative", "coordination": False}).result is False
    assert ask_if.evaluate({"multiple_learners": True}).result is None


def test_condition_logic_unknowns():
    a, b = Check("x", "eq", True), Check("y", "gte", 3)
    assert AllOf((a, b)).evaluate({"x": False}).result is False  # False wins in all
    assert AllOf((a, b)).evaluate({"x": True}).result is None
    assert AnyOf((a, b)).evaluate({"y": 5}).result is True  # True wins in any
    assert AnyOf((a, b)).evaluate({"y": 1}).result is None
    assert Not(a).evaluate({}).result is None
    assert Not(a).evaluate({"x": False}).result is True
    leaf = b.evaluate({"y": 2})
    assert (leaf.text, leaf.result, leaf.actual) == ("y >= 3", False, 2)


# --- Validation errors: file, entry id, and a "did you mean" --------------------------------------


def test_broken_yaml(rules_copy):
    edit(rules_copy, "matrix.yaml", "rules:\n", "rules: [\n")
    err = load_error(rules_copy)
    assert err.message.startswith(f"{rules_copy}/matrix.yaml: not valid YAML")


def test_unknown_fact_in_a_rule(rules_copy):
    edit(rules_copy, "matrix.yaml", "when: {reward_structure: cooperative, coordination: true, action_space: discrete}",
         "when: {reward_structur: cooperative, coordination: true, action_space: discrete}")
    err = load_error(rules_copy)
    assert err.message == (f"{rules_copy}/matrix.yaml: rule 'cooperative-discrete-qmix': "
                           "unknown fact 'reward_structur'; did you mean 'reward_structure'?")


def test_unknown_value_in_a_rule(rules_copy):
    edit(rules_copy, "matrix.yaml", "when: {reward_structure: cooperative, coordination: true, action_space: discrete}",
         "when: {reward_structure: cooperativ, coordination: true, action_space: discrete}")
    err = load_error(rules_copy)
    assert err.message == (f"{rules_copy}/matrix.yaml: rule 'cooperative-discrete-qmix': unknown value "
                           "'cooperativ' for fact 'reward_structure' (expected cooperative, competitive, mixed); "
                           "did you mean 'cooperative'?")


def test_wrongly_typed_value_in_a_rule(rules_copy):
    edit(rules_copy, "matrix.yaml", "coordination: true, action_space: discrete}\n    prefer: {qmix: 10}",
         "coordination: yes please, action_space: discrete}\n    prefer: {qmix: 10}")
    err = load_error(rules_copy)
    assert err.message == (f"{rules_copy}/matrix.yaml: rule 'cooperative-discrete-qmix': unknown value "
                           "'yes please' for fact 'coordination' (expected yes/no)")


def test_unknown_algorithm_in_a_rule(rules_copy):
    edit(rules_copy, "matrix.yaml", "prefer: {qmix: 10}", "prefer: {qmixx: 10}")
    err = load_error(rules_copy)
    assert err.message == (f"{rules_copy}/matrix.yaml: rule 'cooperative-discrete-qmix': "
                           "unknown algorithm 'qmixx'; did you mean 'qmix'?")


def test_unknown_algorithm_in_an_exclusion(rules_copy):
    edit(rules_copy, "matrix.yaml", "exclude: [qmix, vdn]", "exclude: [qmix, vnd]")
    err = load_error(rules_copy)
    assert err.message == (f"{rules_copy}/matrix.yaml: rule 'nonmonotonic-payoffs': "
                           "unknown algorithm 'vnd'; did you mean 'vdn'?")


def test_misspelt_key_in_a_rule(rules_copy):
    edit(rules_copy, "matrix.yaml", "    because: For a coordinated team", "    becuase: For a coordinated team")
    err = load_error(rules_copy)
    assert err.message == (f"{rules_copy}/matrix.yaml: rule 'cooperative-discrete-qmix': "
                           "unknown key 'becuase'; did you mean 'because'?")


def test_rule_without_refs(rules_copy):
    edit(rules_copy, "matrix.yaml",
         '    refs: ["selection guide: 3, matrix (Cooperative x Discrete -> QMIX)", "Rashid et al. 2018, QMIX"]\n',
         "    refs: []\n")
    err = load_error(rules_copy)
    assert err.message == (f"{rules_copy}/matrix.yaml: rule 'cooperative-discrete-qmix': "
                           "'refs' must be a non-empty list of sources")


def test_rule_without_effect(rules_copy):
    edit(rules_copy, "matrix.yaml", "    prefer: {qmix: 10}\n", "")
    err = load_error(rules_copy)
    assert "rule 'cooperative-discrete-qmix': needs an effect" in err.message


def test_duplicate_rule_id(rules_copy):
    edit(rules_copy, "matrix.yaml", "- id: cooperative-continuous-actor-critic", "- id: cooperative-discrete-qmix")
    err = load_error(rules_copy)
    assert err.message == f"{rules_copy}/matrix.yaml: rule 'cooperative-discrete-qmix': duplicate id"


def test_bad_operator(rules_copy):
    edit(rules_copy, "matrix.yaml", "when: {n_agents: {gte: 100}, action_space: discrete}",
         "when: {n_agents: {gtee: 100}, action_space: discrete}")
    err = load_error(rules_copy)
    assert err.message == (f"{rules_copy}/matrix.yaml: rule 'large-population-mean-field': "
                           "unknown operator 'gtee' for fact 'n_agents'; did you mean 'gte'?")


def test_numeric_operator_on_a_choice_fact(rules_copy):
    edit(rules_copy, "matrix.yaml", "when: {n_agents: {gte: 100}, action_space: discrete}",
         "when: {n_agents: {gte: 100}, action_space: {gte: discrete}}")
    err = load_error(rules_copy)
    assert "rule 'large-population-mean-field': operator 'gte' needs an integer fact" in err.message


def test_unknown_fact_in_the_tree(rules_copy):
    edit(rules_copy, "tree.yaml", "fact: interdependent", "fact: interdependant")
    err = load_error(rules_copy)
    assert err.message == (f"{rules_copy}/tree.yaml: node 'interdependence': "
                           "unknown fact 'interdependant'; did you mean 'interdependent'?")


def test_tree_branch_missing_a_value(rules_copy):
    edit(rules_copy, "tree.yaml", "      mixed: {node: coordination-mixed}\n", "")
    err = load_error(rules_copy)
    assert err.message == f"{rules_copy}/tree.yaml: node 'structure': no branch for reward_structure = mixed"


def test_tree_branch_with_unknown_value(rules_copy):
    edit(rules_copy, "tree.yaml", "      mixed: {node: coordination-mixed}", "      mixd: {node: coordination-mixed}")
    err = load_error(rules_copy)
    assert "node 'structure': reward_structure must be cooperative, competitive, mixed, got 'mixd'" in err.message
    assert "did you mean 'mixed'?" in err.message


def test_tree_unknown_leaf_and_unknown_pool_algorithm(rules_copy, tmp_path):
    edit(rules_copy, "tree.yaml", "true: {leaf: cooperative}", "true: {leaf: cooperativ}")
    err = load_error(rules_copy)
    assert err.message == (f"{rules_copy}/tree.yaml: node 'coordination-cooperative': "
                           "unknown leaf 'cooperativ'; did you mean 'cooperative'?")
    edit(rules_copy, "tree.yaml", "true: {leaf: cooperativ}", "true: {leaf: cooperative}")
    edit(rules_copy, "tree.yaml", "pool: {ippo: 2, iql: 1, mfq: 0, mfac: 0}", "pool: {ipo: 2, iql: 1, mfq: 0, mfac: 0}")
    err = load_error(rules_copy)
    assert err.message == (f"{rules_copy}/tree.yaml: leaf 'independent-learners': "
                           "unknown algorithm 'ipo'; did you mean 'ippo'?")


def test_final_leaf_must_name_one_algorithm(rules_copy):
    edit(rules_copy, "tree.yaml", "pool: {single_agent: 1}", "pool: {single_agent: 1, ippo: 0}")
    err = load_error(rules_copy)
    assert "leaf 'single-learner': a final leaf (early exit) must name exactly one algorithm" in err.message


def test_tree_loop(rules_copy):
    edit(rules_copy, "tree.yaml", "true: {node: structure}", "true: {node: learners}")
    err = load_error(rules_copy)
    assert "the tree loops back to this node" in err.message


def test_catalogue_errors(rules_copy):
    edit(rules_copy, "algorithms.yaml", "action_spaces: [discrete, multi_discrete]\n    reward_settings: [cooperative]\n"
         "    policy_type: off-policy\n    needs_state: true",
         "action_spaces: [discrte, multi_discrete]\n    reward_settings: [cooperative]\n    policy_type: off-policy\n"
         "    needs_state: true")
    err = load_error(rules_copy)
    assert err.message == (f"{rules_copy}/algorithms.yaml: algorithm 'qmix': "
                           "unknown value 'discrte' in action_spaces; did you mean 'discrete'?")


def test_catalogue_requires_unknown_fact(rules_copy):
    edit(rules_copy, "algorithms.yaml", "requires: {communication: true, centralized_training: true}",
         "requires: {comunication: true, centralized_training: true}")
    err = load_error(rules_copy)
    assert err.message == (f"{rules_copy}/algorithms.yaml: algorithm 'commnet': "
                           "unknown fact 'comunication'; did you mean 'communication'?")


def test_pitfall_recommended_must_be_an_algorithm(rules_copy):
    edit(rules_copy, "pitfalls.yaml", "when: {recommended: self_play}", "when: {recommended: selfplay}")
    err = load_error(rules_copy)
    assert err.message.startswith(f"{rules_copy}/pitfalls.yaml: pitfall 'self-play-cycling': "
                                  "unknown value 'selfplay' for fact 'recommended' (expected single_agent, ")
    assert err.message.endswith("; did you mean 'self_play'?")


def test_recommended_is_not_a_fact_outside_pitfalls(rules_copy):
    edit(rules_copy, "matrix.yaml", "when: {n_agents: {gte: 100}}", "when: {recommended: ippo}")
    err = load_error(rules_copy)
    assert "rule 'large-population-no-joint-critic': unknown fact 'recommended'" in err.message


def test_ask_if_may_only_use_earlier_facts(rules_copy):
    edit(rules_copy, "facts.yaml", "ask_if: &marl_start {multiple_learners: true}",
         "ask_if: &marl_start {reward_structure: cooperative}")
    err = load_error(rules_copy)
    assert err.message == (f"{rules_copy}/facts.yaml: fact 'interdependent': "
                           "ask_if uses 'reward_structure', which is not listed above this fact")


def test_fact_with_unknown_type(rules_copy):
    edit(rules_copy, "facts.yaml", "type: int", "type: integer")
    err = load_error(rules_copy)
    assert err.message == f"{rules_copy}/facts.yaml: fact 'n_agents': unknown type 'integer'; did you mean 'int'?"


def test_missing_rule_file(rules_copy):
    (rules_copy / "pitfalls.yaml").unlink()
    err = load_error(rules_copy)
    assert err.message.startswith(f"{rules_copy}/pitfalls.yaml: cannot read rule file")


# --- Answers files -------------------------------------------------------------------------------


def test_answers_file_yaml_flat_and_nested(tmp_path):
    facts = load_ruleset().facts
    flat = tmp_path / "a.yaml"
    flat.write_text("multiple_learners: yes\nn_agents: 8\nreward_structure: Cooperative\n")
    assert load_answers_file(flat, facts) == {"multiple_learners": True, "reward_structure": "cooperative",
                                              "n_agents": 8}
    nested = tmp_path / "b.yaml"
    nested.write_text("why: a scenario\nexpect: qmix\nanswers:\n  multiple_learners: false\n")
    assert load_answers_file(nested, facts) == {"multiple_learners": False}


def test_answers_file_json(tmp_path):
    path = tmp_path / "a.json"
    path.write_text(json.dumps({"multiple_learners": True, "action_space": "continuous"}))
    assert load_answers_file(path, load_ruleset().facts) == {"multiple_learners": True, "action_space": "continuous"}


@pytest.mark.parametrize("name, text, expected", [
    ("bad.yaml", "multiple_learners: [yes\n", "is not valid YAML"),
    ("bad.json", "{\"multiple_learners\": tru}", "is not valid JSON"),
    ("list.yaml", "- multiple_learners\n", "must hold a mapping of fact: value, not a list"),
    ("typo.yaml", "multiple_lerners: true\n", "unknown fact 'multiple_lerners'; did you mean 'multiple_learners'?"),
    ("value.yaml", "action_space: discrte\n", "action_space must be discrete, continuous, got 'discrte'; "
                                              "did you mean 'discrete'?"),
    ("int.yaml", "n_agents: 0\n", "n_agents must be >= 1, got 0"),
    ("extra.yaml", "answers: {}\nexpected: qmix\n", "unexpected key 'expected' next to 'answers:'"),
])
def test_bad_answers_files(tmp_path, name, text, expected):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(AdvisorError) as info:
        load_answers_file(path, load_ruleset().facts)
    assert expected in info.value.message
    assert str(path) in info.value.message


def test_missing_answers_file(tmp_path):
    with pytest.raises(AdvisorError) as info:
        load_answers_file(tmp_path / "nope.yaml", load_ruleset().facts)
    assert info.value.code == "bad-answers-file" and "cannot read answers file" in info.value.message


def test_validate_answers_parses_text_values():
    facts = load_ruleset().facts
    assert validate_answers({"coordination": "no", "n_agents": "12", "sample_budget": "2"}, facts, "flag") == \
        {"coordination": False, "n_agents": 12, "sample_budget": "expensive"}
    with pytest.raises(AdvisorError, match="n_agents must be an integer >= 1, got 'many'"):
        validate_answers({"n_agents": "many"}, facts, "flag")


def test_shipped_rules_copy_is_loadable(rules_copy):
    """The fixture itself: a pristine copy loads and equals the shipped rules."""
    copy = load_ruleset(rules_copy)
    shipped = load_ruleset()
    assert copy.rules == shipped.rules and copy.algorithms == shipped.algorithms
    shutil.rmtree(rules_copy)


# --- The catalogue's train settings ---------------------------------------------------------------


# QMIX's train line up to its comment's first words; a replacement ends in " #" so the rest stays a comment.
QMIX_STEPS = "      steps: 1300000  # simple_spread"


def test_train_settings_become_the_advisors_train_options(rules_copy):
    edit(rules_copy, "algorithms.yaml", QMIX_STEPS, "      steps: 5000\n      num_envs: 4\n"
         "      set: {lr: 0.001, double_q: false} #")
    qmix = load_ruleset(rules_copy).algorithms["qmix"]
    assert qmix.train == ("--steps 5000", "--num-envs 4", "--set lr=0.001", "--set double_q=false")


@pytest.mark.parametrize("bad, message", [
    ("      stepz: 5", "unknown key 'stepz'"),
    ("      steps: -5", "train.steps must be a positive integer, got -5"),
    ("      steps: 5\n      set: [lr]", "train.set must be a mapping"),
])
def test_bad_train_settings_are_named(rules_copy, bad, message):
    edit(rules_copy, "algorithms.yaml", QMIX_STEPS, bad + " #")
    err = load_error(rules_copy)
    assert "algorithm 'qmix'" in err.message and message in err.message, err.message


def test_rules_check_refuses_train_settings_the_config_does_not_have(rules_copy):
    from advisor.check import check_registry
    from algorithms import ALGORITHMS

    edit(rules_copy, "algorithms.yaml", QMIX_STEPS, "      steps: 5\n      set: {learning_rate: 0.1} #")
    problems = check_registry(load_ruleset(rules_copy), ALGORITHMS)
    assert any("'learning_rate' is not a QMIXConfig field" in p for p in problems), problems
