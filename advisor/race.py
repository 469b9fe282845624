"""`marl race`'s advisor side: the arms (the advisor's top bundled recommendations for the env, each with the
catalogue's measured settings), the verdict against the advisor's pick, the curves PNG, and the record that
`marl advise --env` shows afterwards ("measured on this env: ...")."""
from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Any

from advisor.check import load_registry
from advisor.cli_options import parse_set_options
from advisor.engine import Recommendation, evaluate
from advisor.errors import AdvisorError
from advisor.explain import bundled_algorithms
from advisor.facts import FactValue
from advisor.guard import ASSUMED, _cache_dir
from advisor.report import png_bytes
from advisor.ruleset import RuleSet
from algorithms.core.checkpoint import atomic_write_bytes
from algorithms.errors import MARLError
from algorithms.registry import make
from algorithms.training.benchmark_spec import AlgorithmChoice


def recommend(facts: dict[str, FactValue], given: dict[str, FactValue], rs: RuleSet) -> tuple[Recommendation, dict]:
    """The advisor on detected facts and the user's answers, ASSUMED filling what neither says (returned)."""
    known = {**facts, **given}
    assumed = {k: v for k, v in ASSUMED.items() if k not in known}
    return evaluate({**assumed, **known}, rs), assumed


def ranked_bundled(rec: Recommendation, rs: RuleSet) -> list[str]:
    bundled = bundled_algorithms(rs, load_registry())
    return [a for a in [rec.algorithm, *(r.algorithm for r in rec.alternatives)] if a in bundled]


def arm(algorithm: str, rs: RuleSet) -> AlgorithmChoice:
    """An arm with the catalogue's measured settings (its `train` block's `--set`s) for the algorithm."""
    options = list(rs.algorithms[algorithm].train) if algorithm in rs.algorithms else []
    sets = [options[i + 1] for i, o in enumerate(options[:-1]) if o == "--set"]
    return AlgorithmChoice(algorithm, parse_set_options(sets), algorithm)


def arms_that_build(candidates: list[str], env: str, env_kwargs: dict, top: int, rs: RuleSet
                    ) -> tuple[list[AlgorithmChoice], list[str]]:
    """The first `top` candidates that build on the env (one copy); the others' one-line reasons."""
    arms, skipped = [], []
    for algorithm in candidates:
        if len(arms) == top:
            break
        choice = arm(algorithm, rs)
        try:
            make(algorithm, env, env_kwargs=env_kwargs, num_envs=1, seed=0, **choice.set).envs.close()
        except MARLError as err:
            skipped.append(f"{algorithm}: {err.message}")
            continue
        arms.append(choice)
    return arms, skipped


def verdict(out: dict[str, Any], pick: str) -> str:
    winner = out["winner"]
    rows = {a["algorithm"]: a for a in out["arms"]}
    if pick not in rows:
        return f"{winner} won; the advisor's pick {pick} was not in the race"
    tied = out.get("tied_with_winner", [])
    if pick == winner:
        return f"the advisor's pick {pick} is confirmed: it won the race" + (
            f" (tied with {', '.join(tied)})" if tied else "")
    if pick in tied:
        return f"the advisor's pick {pick} tied with {winner} for first place"
    p = rows[pick]["p_winner_beats_this"]
    return (f"the advisor's pick {pick} was beaten by {winner}: P({winner} beats {pick} on a seed) = {p:.2f} at "
            f"{rows[pick]['steps']:,} env steps")


def _record_path(env: str, env_kwargs: dict) -> Path:
    key = hashlib.sha256(json.dumps([env, env_kwargs], sort_keys=True, default=str).encode()).hexdigest()[:24]
    return _cache_dir().parent / "races" / f"{key}.json"


def remember(out: dict[str, Any], root: Path) -> None:
    """Keep the result where `marl advise --env` finds it (a cache that cannot be written is only a lost hint)."""
    record = {**{k: out[k] for k in ("env", "env_kwargs", "winner", "advisor_pick", "verdict", "budget")},
              "seeds": len(out["seeds"]), "race_dir": str(root.resolve()), "when": time.strftime("%Y-%m-%d"),
              "arms": [{k: a[k] for k in ("algorithm", "iqm", "ci95", "steps")} for a in out["arms"]]}
    path = _record_path(out["env"], out["env_kwargs"])
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(path, json.dumps(record, indent=2).encode())
    except OSError:
        pass


def measured(env: str, env_kwargs: dict) -> dict[str, Any] | None:
    """The latest race on this env and kwargs, if one was run here."""
    try:
        return json.loads(_record_path(env, env_kwargs).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def measured_line(record: dict[str, Any]) -> str:
    arms = ", ".join(f"{a['algorithm']} {a['iqm']:.3g} [{a['ci95'][0]:.3g}, {a['ci95'][1]:.3g}] at {a['steps']:,}"
                     for a in sorted(record["arms"], key=lambda a: (-a["steps"], -a["iqm"])))
    return (f"measured on this env ({record['when']}, `marl race`, {record['seeds']} seeds, up to "
            f"{record['budget']:,} env steps): {record['winner']} won; IQM return per agent: {arms}. "
            f"{record['verdict'][0].upper()}{record['verdict'][1:]}. ({record['race_dir']})")


def curves_png(out: dict[str, Any]) -> bytes:
    """IQM per rung with its 95% CI, one line per arm, on a log step axis."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for a in out["arms"]:
        steps = [r["steps"] for r in a["rungs"]]
        mid = [r["iqm"] for r in a["rungs"]]
        err = [[m - r["ci95"][0] for m, r in zip(mid, a["rungs"])], [r["ci95"][1] - m for m, r in zip(mid, a["rungs"])]]
        ax.errorbar(steps, mid, yerr=err, marker="o", capsize=3,
                    label=a["algorithm"] + (" (winner)" if a["algorithm"] == out["winner"] else ""))
    if len(out["rungs"]) > 1:
        ax.set_xscale("log")
    ax.set_xlabel("env steps")
    ax.set_ylabel("IQM evaluation return per agent (95% CI)")
    ax.set_title(f"race on {out['env']} ({len(out['seeds'])} seeds)", fontsize=9)
    ax.legend(fontsize=8)
    return png_bytes(fig)


def check_budget(budget: int, seeds: int, top: int) -> None:
    if budget < 1 or seeds < 1 or top < 2:
        raise AdvisorError("bad-option", f"--budget and --seeds must be at least 1 and --top at least 2 (got "
                           f"{budget}, {seeds}, {top})")

