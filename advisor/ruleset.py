"""Load rules/*.yaml into validated objects: facts, the decision tree, matrix rules, catalogue, pitfalls.

Everything is checked when loaded, so the engine never meets an unknown fact, value or algorithm:
such a mistake fails here with the file, the entry's id and a "did you mean". Conditions (ask_if,
rule `when`, catalogue `requires`, pitfalls, constraints) use the language of advisor.conditions.
"""
from __future__ import annotations

import functools
from dataclasses import replace
from importlib import resources
from pathlib import Path
from typing import Any, Mapping

import yaml

from advisor.conditions import Where, format_value, parse_condition
from advisor.errors import AdvisorError, did_you_mean
from advisor.facts import Fact, FactValue
from advisor.rule_model import AlgorithmInfo, Constraint, Pitfall, Rule, RuleSet, TreeLeaf, TreeNode

RULE_FILES = ("facts.yaml", "tree.yaml", "matrix.yaml", "algorithms.yaml", "pitfalls.yaml")
# multi_discrete: factorised discrete actions (MultiDiscrete, MultiBinary), which count as discrete for the action_space
# fact; an algorithm without it is ruled out where factorised_actions holds.
ACTION_SPACES = ("discrete", "continuous", "multi_discrete")
REWARD_SETTINGS = ("cooperative", "competitive", "mixed")
POLICY_TYPES = ("on-policy", "off-policy", "either")
RECOMMENDED = "recommended"  # pseudo-fact usable in pitfalls: the algorithm the advisor picked

# ---------------------------------------------------------------------------------------------------
# Loading and validation


def default_rules_dir():
    """The shipped rule files (rules/ in the repository, installed as package data advisor.rules)."""
    return resources.files("advisor.rules")


@functools.lru_cache(maxsize=1)
def _shipped() -> RuleSet:
    return _load(None)


def load_ruleset(rules_dir: str | Path | None = None) -> RuleSet:
    """Load and validate all rule files from `rules_dir` (default: the shipped rules, loaded once)."""
    return _shipped() if rules_dir is None else _load(Path(rules_dir))


def _load(rules_dir: Path | None) -> RuleSet:
    base = rules_dir if rules_dir is not None else default_rules_dir()
    label = str(rules_dir) if rules_dir is not None else "rules"
    docs = {name: _read_yaml(base, name, f"{label}/{name}") for name in RULE_FILES}
    facts_where = Where(f"{label}/facts.yaml")
    catalogue_where = Where(f"{label}/algorithms.yaml")

    facts = _parse_facts(docs["facts.yaml"], facts_where)
    constraints = _parse_constraints(docs["facts.yaml"], facts, facts_where)
    algorithms = _parse_algorithms(docs["algorithms.yaml"], facts, catalogue_where)
    root, nodes, leaves = _parse_tree(docs["tree.yaml"], facts, algorithms, Where(f"{label}/tree.yaml"))
    rules = _parse_rules(docs["matrix.yaml"], facts, algorithms, Where(f"{label}/matrix.yaml"))
    pitfalls = _parse_pitfalls(docs["pitfalls.yaml"], facts, algorithms, Where(f"{label}/pitfalls.yaml"))
    return RuleSet(facts, constraints, root, nodes, leaves, rules, algorithms, pitfalls, label)


def _read_yaml(base: Any, name: str, label: str) -> dict[str, Any]:
    try:
        text = base.joinpath(name).read_text(encoding="utf-8")
    except (OSError, FileNotFoundError) as err:
        raise AdvisorError("bad-rules", f"{label}: cannot read rule file: {err}") from err
    except UnicodeDecodeError:
        raise AdvisorError("bad-rules", f"{label}: the rule file is not UTF-8 text") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise AdvisorError("bad-rules", f"{label}: not valid YAML: {err}") from err
    if not isinstance(data, dict):
        raise AdvisorError("bad-rules", f"{label}: must be a mapping at the top level")
    return data


def _entries(doc: dict[str, Any], key: str, where: Where, allowed_top: tuple[str, ...]) -> list[dict[str, Any]]:
    _check_keys(doc, allowed_top, where)
    items = doc.get(key)
    if not isinstance(items, list) or not items:
        raise where.error(f"'{key}:' must be a non-empty list")
    seen: set[str] = set()
    for i, item in enumerate(items):
        if not isinstance(item, dict) or not isinstance(item.get("id"), str):
            raise where.error(f"entry {i + 1} under '{key}:' must be a mapping with a string 'id'")
        if item["id"] in seen:
            raise where.at(key.rstrip("s"), item["id"]).error("duplicate id")
        seen.add(item["id"])
    return items


def _check_keys(entry: Mapping[str, Any], allowed: tuple[str, ...], where: Where,
                required: tuple[str, ...] = ()) -> None:
    for key in entry:
        if key not in allowed:
            raise where.error(f"unknown key '{key}'", did_you_mean(str(key), allowed))
    for key in required:
        if key not in entry:
            raise where.error(f"missing '{key}'")


def _text(entry: Mapping[str, Any], key: str, where: Where) -> str:
    value = entry.get(key)
    if not isinstance(value, str) or not value.strip():
        raise where.error(f"'{key}' must be a non-empty sentence")
    return " ".join(value.split())


def _refs(entry: Mapping[str, Any], where: Where) -> tuple[str, ...]:
    refs = entry.get("refs")
    if not isinstance(refs, list) or not refs or not all(isinstance(r, str) and r.strip() for r in refs):
        raise where.error("'refs' must be a non-empty list of sources")
    return tuple(refs)


def _algorithm_id(name: Any, algorithms: Mapping[str, Any], where: Where) -> str:
    if not isinstance(name, str) or name not in algorithms:
        raise where.error(f"unknown algorithm '{name}'", did_you_mean(str(name), algorithms))
    return name


def _parse_facts(doc: dict[str, Any], where: Where) -> dict[str, Fact]:
    entries = _entries(doc, "facts", where, ("facts", "constraints"))
    facts: dict[str, Fact] = {}
    keys = ("id", "type", "prompt", "help", "choices", "min", "default", "ask_if")
    for entry in entries:
        w = where.at("fact", entry["id"])
        _check_keys(entry, keys, w, ("type", "prompt", "help"))
        kind = entry["type"]
        if kind not in ("bool", "choice", "int"):
            raise w.error(f"unknown type '{kind}'", did_you_mean(str(kind), ("bool", "choice", "int")))
        choices = entry.get("choices") or []
        if (kind == "choice") != bool(choices) or not all(isinstance(c, str) for c in choices):
            raise w.error("'choices' (a list of strings) is required for type choice and only for it")
        fact = Fact(entry["id"], kind, _text(entry, "prompt", w), _text(entry, "help", w),
                    tuple(choices), entry.get("min"))
        if entry.get("default") is not None:
            fact = replace(fact, default=_parse_value(fact, entry["default"], w))
        facts[fact.id] = fact
    # ask_if may only use facts listed above, so asking in file order always has what it needs.
    order = list(facts)
    for entry in entries:
        if entry.get("ask_if") is None:
            continue
        w = where.at("fact", entry["id"])
        ask_if = parse_condition(entry["ask_if"], facts, w)
        later = [f for f in sorted(ask_if.facts()) if order.index(f) >= order.index(entry["id"])]
        if later:
            raise w.error(f"ask_if uses '{later[0]}', which is not listed above this fact")
        facts[entry["id"]] = replace(facts[entry["id"]], ask_if=ask_if)
    return facts


def _parse_value(fact: Fact, raw: Any, where: Where) -> FactValue:
    try:
        return fact.parse(raw, f"fact '{fact.id}'")
    except AdvisorError as err:
        raise where.error(err.message.split(": ", 1)[-1], err.hint) from None


def _parse_constraints(doc: dict[str, Any], facts: dict[str, Fact], where: Where) -> tuple[Constraint, ...]:
    out = []
    for entry in doc.get("constraints") or []:
        if not isinstance(entry, dict) or "id" not in entry:
            raise where.error("every constraint needs an 'id'")
        w = where.at("constraint", entry["id"])
        _check_keys(entry, ("id", "when", "require", "message"), w, ("when", "require", "message"))
        out.append(Constraint(entry["id"], parse_condition(entry["when"], facts, w),
                              parse_condition(entry["require"], facts, w), _text(entry, "message", w)))
    return tuple(out)


def _parse_algorithms(doc: dict[str, Any], facts: dict[str, Fact], where: Where) -> dict[str, AlgorithmInfo]:
    entries = _entries(doc, "algorithms", where, ("algorithms",))
    keys = ("id", "name", "paper", "bundled", "summary", "action_spaces", "reward_settings", "policy_type",
            "needs_state", "requires", "train")
    out: dict[str, AlgorithmInfo] = {}
    for entry in entries:
        w = where.at("algorithm", entry["id"])
        _check_keys(entry, keys, w, keys[:-2])
        spaces = _subset(entry["action_spaces"], ACTION_SPACES, "action_spaces", w)
        settings = _subset(entry["reward_settings"], REWARD_SETTINGS, "reward_settings", w)
        if entry["policy_type"] not in POLICY_TYPES:
            raise w.error(f"unknown policy_type '{entry['policy_type']}'",
                          did_you_mean(str(entry["policy_type"]), POLICY_TYPES))
        for flag in ("bundled", "needs_state"):
            if not isinstance(entry[flag], bool):
                raise w.error(f"'{flag}' must be true or false")
        requires = parse_condition(entry["requires"], facts, w) if entry.get("requires") is not None else None
        out[entry["id"]] = AlgorithmInfo(entry["id"], _text(entry, "name", w), _text(entry, "paper", w),
                                         entry["bundled"], _text(entry, "summary", w), spaces, settings,
                                         entry["policy_type"], entry["needs_state"], requires,
                                         _train_options(entry.get("train"), w))
    return out


def _train_options(raw: Any, where: Where) -> tuple[str, ...]:
    """A catalogue entry's `train: {steps: N, num_envs: K, set: {key: value}}` as `marl train` options.
    The keys in `set` are checked against the algorithm's config by `marl rules check`."""
    if raw is None:
        return ()
    if not isinstance(raw, dict):
        raise where.error("'train' must be a mapping of steps, num_envs and set")
    _check_keys(raw, ("steps", "num_envs", "set"), where, ())
    options: list[str] = []
    for key, flag in (("steps", "--steps"), ("num_envs", "--num-envs")):
        if key in raw:
            if not isinstance(raw[key], int) or isinstance(raw[key], bool) or raw[key] < 1:
                raise where.error(f"train.{key} must be a positive integer, got {raw[key]!r}")
            options.append(f"{flag} {raw[key]}")
    settings = raw.get("set") or {}
    if not isinstance(settings, dict):
        raise where.error("train.set must be a mapping of config field to value")
    for key, value in settings.items():
        text = str(value).lower() if isinstance(value, bool) else str(value)
        options.append(f"--set {key}={text}")
    return tuple(options)


def _subset(raw: Any, allowed: tuple[str, ...], key: str, where: Where) -> frozenset[str]:
    if not isinstance(raw, list) or not raw:
        raise where.error(f"'{key}' must be a non-empty list drawn from {', '.join(allowed)}")
    for item in raw:
        if item not in allowed:
            raise where.error(f"unknown value '{item}' in {key}", did_you_mean(str(item), allowed))
    return frozenset(raw)


def _parse_tree(doc: dict[str, Any], facts: dict[str, Fact], algorithms: dict[str, AlgorithmInfo],
                where: Where) -> tuple[str, dict[str, TreeNode], dict[str, TreeLeaf]]:
    _check_keys(doc, ("root", "nodes", "leaves"), where, ("root", "nodes", "leaves"))
    leaves: dict[str, TreeLeaf] = {}
    for entry in _entries(doc, "leaves", where, ("root", "nodes", "leaves")):
        w = where.at("leaf", entry["id"])
        _check_keys(entry, ("id", "pool", "final", "because", "refs"), w, ("pool", "because", "refs"))
        pool = entry["pool"]
        if not isinstance(pool, dict) or not pool:
            raise w.error("'pool' must map algorithm ids to base scores")
        for algo, score in pool.items():
            _algorithm_id(algo, algorithms, w)
            if not isinstance(score, (int, float)) or isinstance(score, bool):
                raise w.error(f"base score of '{algo}' must be a number")
        final = bool(entry.get("final", False))
        if final and len(pool) != 1:
            raise w.error("a final leaf (early exit) must name exactly one algorithm")
        leaves[entry["id"]] = TreeLeaf(entry["id"], dict(pool), final, _text(entry, "because", w), _refs(entry, w))

    nodes: dict[str, TreeNode] = {}
    node_entries = _entries(doc, "nodes", where, ("root", "nodes", "leaves"))
    node_ids = {e["id"] for e in node_entries}
    for entry in node_entries:
        w = where.at("node", entry["id"])
        _check_keys(entry, ("id", "fact", "question", "branches"), w, ("fact", "question", "branches"))
        fact = facts.get(entry["fact"])
        if fact is None:
            raise w.error(f"unknown fact '{entry['fact']}'", did_you_mean(str(entry["fact"]), facts))
        if fact.type == "int":
            raise w.error(f"fact '{fact.id}' is an integer; tree nodes branch on bool or choice facts")
        raw_branches = entry["branches"]
        if not isinstance(raw_branches, dict):
            raise w.error("'branches' must map each value of the fact to {node: id} or {leaf: id}")
        branches: dict[FactValue, tuple[str, str]] = {}
        for raw_value, target in raw_branches.items():
            value = _parse_value(fact, raw_value, w)
            if not (isinstance(target, dict) and len(target) == 1 and next(iter(target)) in ("node", "leaf")):
                raise w.error(f"branch '{raw_value}' must be {{node: id}} or {{leaf: id}}")
            kind, ident = next(iter(target.items()))
            known = node_ids if kind == "node" else leaves
            if ident not in known:
                raise w.error(f"unknown {kind} '{ident}'", did_you_mean(str(ident), known))
            branches[value] = (kind, ident)
        expected = [False, True] if fact.type == "bool" else list(fact.choices)
        missing = [v for v in expected if v not in branches]
        if missing:
            raise w.error(f"no branch for {fact.id} = {format_value(missing[0])}")
        nodes[entry["id"]] = TreeNode(entry["id"], fact.id, _text(entry, "question", w), branches)

    root = doc["root"]
    if root not in nodes:
        raise where.error(f"unknown root node '{root}'", did_you_mean(str(root), nodes))
    _check_acyclic(root, nodes, where)
    return root, nodes, leaves


def _check_acyclic(root: str, nodes: dict[str, TreeNode], where: Where) -> None:
    def visit(node_id: str, path: tuple[str, ...]) -> None:
        if node_id in path:
            raise where.at("node", node_id).error("the tree loops back to this node")
        for kind, ident in nodes[node_id].branches.values():
            if kind == "node":
                visit(ident, path + (node_id,))
    visit(root, ())


def _parse_rules(doc: dict[str, Any], facts: dict[str, Fact], algorithms: dict[str, AlgorithmInfo],
                 where: Where) -> tuple[Rule, ...]:
    out = []
    for entry in _entries(doc, "rules", where, ("rules",)):
        w = where.at("rule", entry["id"])
        _check_keys(entry, ("id", "when", "prefer", "exclude", "because", "refs"), w, ("when", "because", "refs"))
        prefer = entry.get("prefer") or {}
        exclude = entry.get("exclude") or []
        if not isinstance(prefer, dict) or not isinstance(exclude, list) or not (prefer or exclude):
            raise w.error("needs an effect: 'prefer: {algorithm: score}' and/or 'exclude: [algorithm, ...]'")
        for algo, score in prefer.items():
            _algorithm_id(algo, algorithms, w)
            if not isinstance(score, (int, float)) or isinstance(score, bool):
                raise w.error(f"score for '{algo}' must be a number")
        for algo in exclude:
            _algorithm_id(algo, algorithms, w)
        out.append(Rule(entry["id"], parse_condition(entry["when"], facts, w), dict(prefer), tuple(exclude),
                        _text(entry, "because", w), _refs(entry, w)))
    return tuple(out)


def _parse_pitfalls(doc: dict[str, Any], facts: dict[str, Fact], algorithms: dict[str, AlgorithmInfo],
                    where: Where) -> tuple[Pitfall, ...]:
    # Pitfalls may also test the recommended algorithm, through the pseudo-fact `recommended`.
    namespace = dict(facts)
    namespace[RECOMMENDED] = Fact(RECOMMENDED, "choice", "recommended algorithm", "the advisor's pick",
                                  tuple(algorithms))
    out = []
    for entry in _entries(doc, "pitfalls", where, ("pitfalls",)):
        w = where.at("pitfall", entry["id"])
        _check_keys(entry, ("id", "when", "title", "advice", "rationalization", "refs"), w,
                    ("when", "title", "advice", "refs"))
        rationalization = entry.get("rationalization")
        out.append(Pitfall(entry["id"], parse_condition(entry["when"], namespace, w), _text(entry, "title", w),
                           _text(entry, "advice", w), " ".join(rationalization.split()) if rationalization else None,
                           _refs(entry, w)))
    return tuple(out)
