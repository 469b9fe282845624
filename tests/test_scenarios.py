"""Scenarios: answers files under tests/scenarios/, each with the expected top recommendation and why."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from advisor.engine import evaluate
from advisor.facts import load_answers_file
from advisor.ruleset import load_ruleset

SCENARIOS = sorted((Path(__file__).parent / "scenarios").glob("*.*"))


def expectation(path: Path) -> dict:
    return yaml.safe_load(path.read_text())  # JSON is YAML too


def as_list(value) -> list[str]:
    return [value] if isinstance(value, str) else list(value or [])


def test_there_are_enough_scenarios_covering_the_issue_list():
    assert len(SCENARIOS) >= 15
    tops = {algo for path in SCENARIOS for algo in as_list(expectation(path)["expect"])}
    # qmix, mappo/maddpg, self_play, single_agent, independent, commnet, not qmix/vdn, a scalable choice
    assert {"qmix", "mappo", "maddpg", "self_play", "single_agent", "independent", "commnet", "qplex",
            "mfq", "mfac"} <= tops


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_scenario(path: Path):
    rs = load_ruleset()
    spec = expectation(path)
    assert isinstance(spec.get("why"), str) and len(spec["why"]) > 20, "each scenario says why, with a source"
    expected = as_list(spec["expect"])
    assert expected and all(algo in rs.algorithms for algo in expected + as_list(spec.get("expect_not")))
    rec = evaluate(load_answers_file(path, rs.facts), rs)
    assert rec.algorithm in expected, f"{path.name}: got {rec.algorithm}, expected {expected} ({spec['why']})"
    assert rec.algorithm not in as_list(spec.get("expect_not"))
    assert not rec.ignored, f"{path.name} answers facts that are irrelevant on its path: {rec.ignored}"
