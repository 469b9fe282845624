"""The guard before training: does ALGO fit ENV? The env is inspected (cached by env string and kwargs) and the
algorithm's catalogue capabilities, the matrix's exclusion rules and the pitfalls are checked against what was
detected. A hard mismatch (a capability or an exclusion that holds) stops `marl train`; a soft one (a pitfall, a
rule that marks the algorithm down, a requirement inspection cannot tell) warns."""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from advisor.engine import _condition_summary, capability_checks, evaluate
from advisor.check import load_registry
from advisor.errors import AdvisorError
from advisor.explain import bundled_algorithms
from advisor.facts import FactValue
from advisor.inspect import inspect_env
from advisor.ruleset import RECOMMENDED, RuleSet, load_ruleset
from algorithms.errors import EnvError, MARLError
from algorithms.registry import get_entry

CACHE_VERSION = 2  # 2: factorised_actions detected
# What inspection cannot detect, assumed only to name the advisor's pick beside a refusal (the full advice asks):
# several agents learning together, coordination needed, partial observability, centralised training possible.
ASSUMED = {"multiple_learners": True, "interdependent": True, "coordination": True, "observability": "partial",
           "centralized_training": True, "communication": False, "nonmonotonic": False, "sample_budget": "cheap",
           "opponent_predictable": False}


@dataclass(frozen=True)
class Finding:
    level: str  # "hard" or "soft"
    rule: str  # the rule, pitfall or catalogue check that holds
    what: str  # the condition with its detected value
    because: str  # the rule's own `because` text


@dataclass
class FitReport:
    algorithm: str
    env: str
    facts: dict[str, FactValue]
    findings: list[Finding] = field(default_factory=list)
    pick: str | None = None

    @property
    def hard(self) -> list[Finding]:
        return [f for f in self.findings if f.level == "hard"]

    @property
    def soft(self) -> list[Finding]:
        return [f for f in self.findings if f.level == "soft"]

    def to_dict(self) -> dict[str, Any]:
        return {"algorithm": self.algorithm, "env": self.env, "fits": not self.hard, "facts": self.facts,
                "hard": [f.__dict__ for f in self.hard], "soft": [f.__dict__ for f in self.soft],
                "advisor_pick": self.pick, "assumed_for_pick": {k: v for k, v in ASSUMED.items()
                                                                if k not in self.facts}}


def _cache_dir() -> Path:
    return Path(os.environ.get("MARL_CACHE_DIR") or Path.home() / ".cache" / "marl-advisor") / "inspect"


def detected_facts(env: str, env_kwargs: dict[str, Any]) -> dict[str, FactValue]:
    """What `marl inspect` detects about the env, cached on disk by env string and kwargs (an env is opened and
    stepped once; a damaged cache entry is inspected again)."""
    key = hashlib.sha256(json.dumps([CACHE_VERSION, env, env_kwargs], sort_keys=True, default=str).encode())
    path = _cache_dir() / f"{key.hexdigest()[:24]}.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))["facts"]
    except (OSError, ValueError, KeyError, TypeError):
        pass
    facts = dict(inspect_env(env, env_kwargs).facts)
    try:  # a cache that cannot be written only costs the next inspection
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        tmp.write_text(json.dumps({"env": env, "env_kwargs": env_kwargs, "facts": facts}, default=str))
        os.replace(tmp, path)
    except OSError:
        pass
    return facts


def check_fit(algorithm: str, env: str, env_kwargs: dict[str, Any] | None = None,
              ruleset: RuleSet | None = None) -> FitReport:
    rs = ruleset or load_ruleset()
    if algorithm not in rs.algorithms:
        get_entry(algorithm)  # an unknown id: the registry's message names the closest one
        raise AdvisorError("unknown-algorithm", f"'{algorithm}' is not in the advisor's catalogue",
                           "see `marl algorithms`")
    facts = detected_facts(env, dict(env_kwargs or {}))
    report = FitReport(algorithm, env, facts)
    info = rs.algorithms[algorithm]
    for check in capability_checks(info, facts):
        for leaf in check.failing():
            known = leaf.result is False
            report.findings.append(Finding(
                "hard" if known else "soft", "catalogue", f"{leaf.text} (detected: {leaf.actual})",
                f"{info.name} {'needs' if known else 'applies only when'} {leaf.text}" +
                ("" if known else ", which inspection cannot tell: `marl advise --env` asks")))
    for rule in rs.rules:
        result = rule.when.evaluate(facts)
        if result.result is not True:
            continue
        if algorithm in rule.exclude:
            report.findings.append(Finding("hard", rule.id, _condition_summary(result), rule.because))
        elif rule.prefer.get(algorithm, 0) < 0:
            report.findings.append(Finding("soft", rule.id, _condition_summary(result), rule.because))
    for pitfall in rs.pitfalls:
        if pitfall.when.evaluate({**facts, RECOMMENDED: algorithm}).result is True:
            report.findings.append(Finding("soft", pitfall.id, pitfall.title, " ".join(pitfall.advice.split())))
    report.pick = advisor_pick(facts, rs)
    return report


def advisor_pick(facts: dict[str, FactValue], rs: RuleSet) -> str | None:
    """The advisor's first bundled choice for the detected facts (ASSUMED filling what inspection cannot tell)."""
    try:
        rec = evaluate({**{k: v for k, v in ASSUMED.items() if k not in facts}, **facts}, rs)
    except AdvisorError:  # the assumptions contradict a detected fact: no pick to name
        return None
    bundled = bundled_algorithms(rs, load_registry())
    return next((a for a in [rec.algorithm, *(r.algorithm for r in rec.alternatives)] if a in bundled), None)


def refusal(report: FitReport) -> AdvisorError:
    """The one message `marl train` stops with on a hard mismatch."""
    first = report.hard[0]
    more = f" (and {len(report.hard) - 1} more: `marl check {report.algorithm} --env {report.env}`)" \
        if len(report.hard) > 1 else ""
    pick = f"; the advisor's pick for this env: {report.pick}" if report.pick and report.pick != report.algorithm else ""
    return AdvisorError("does-not-fit", f"{report.algorithm} does not fit {report.env}: {first.because} "
                        f"[{first.rule}: {first.what}]{more}",
                        f"train another algorithm{pick} (`marl advise --env {report.env}` explains), or pass --force "
                        "to train anyway (recorded in the run's config)")


def guard_training(algorithm: str, env: str, env_kwargs: dict[str, Any], force: bool) -> tuple[list[str], list[str]]:
    """For `marl train`: (warnings to print, hard findings overridden by --force to record in the run's config).
    A hard mismatch without --force raises the refusal before anything is written. An env that raises while it is
    inspected skips the check with a warning: training then meets the same failure and reports it in full."""
    try:
        report = check_fit(algorithm, env, env_kwargs)
    except EnvError as err:
        return [f"the fit of {algorithm} to {env} was not checked: {err.message}"], []
    except MARLError:
        raise
    except Exception as err:  # an env's own exception while inspecting it
        return [f"the fit of {algorithm} to {env} was not checked: inspecting the env raised "
                f"{type(err).__name__}: {err}"], []
    if report.hard and not force:
        raise refusal(report)
    warnings = [f"{f.rule}: {f.what if f.rule != 'catalogue' else f.because}" for f in report.soft]
    forced = [f"{f.rule}: {f.what}" for f in report.hard]
    if forced:
        warnings.insert(0, f"--force: training although {report.hard[0].because}")
    return warnings, forced
