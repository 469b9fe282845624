"""A race between algorithms on one env by successive halving (Jamieson & Talwalkar 2016; the synchronous form
of ASHA, Li et al. 2020): every arm trains on the same seeds to the first rung's budget, the weaker arms are
stopped (by the IQM of their deterministic evaluation returns over the seeds), the rest train on to the next
rung, and so on until two arms are left, which go to the full budget. Each rung is a `marl benchmark` grid in one
directory, so a trial carried to the next rung resumes from its checkpoint (exactly) instead of starting again,
re-running resumes a stopped race, and the trials run in this process, on local workers or on Ray.

Synchronous rungs make the verdict a function of the seeds alone: asynchronous ASHA decides by completion order,
which differs between runs and executors.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from algorithms.core.checkpoint import atomic_write_bytes
from algorithms.core.statistics import probability_of_improvement, summarise
from algorithms.errors import MARLError
from algorithms.training.benchmark import claim_bench_dir, run_benchmark
from algorithms.training.benchmark_spec import AlgorithmChoice, BenchmarkSpec, EnvChoice


@dataclass
class RaceSpec:
    arms: list[AlgorithmChoice]
    env: EnvChoice
    seeds: list[int]
    budget: int
    eta: int = 3
    eval_episodes: int = 16
    num_envs: int = 0
    cpus_per_trial: int = 1

    def rungs(self) -> list[tuple[int, int]]:
        """(env steps, arms kept at that rung): arms keep max(2, ceil(n / eta)) per rung until two are left;
        the budgets grow by eta per rung and the last is the full budget."""
        if len(self.arms) < 2:
            raise MARLError("bad-race", "a race needs at least two algorithms")
        if self.eta < 2:
            raise MARLError("bad-race", f"--eta must be at least 2, got {self.eta}")
        sizes = [len(self.arms)]
        while sizes[-1] > 2:
            sizes.append(max(2, math.ceil(sizes[-1] / self.eta)))
        last = len(sizes) - 1
        return [(max(1, self.budget // self.eta ** (last - r)), n) for r, n in enumerate(sizes)]

    def as_yaml_data(self) -> dict[str, Any]:
        return {"race": [{"algorithm": a.algorithm, "set": a.set, "name": a.name} for a in self.arms],
                "env": {"env": self.env.env, "env_kwargs": self.env.env_kwargs}, "seeds": self.seeds,
                "budget": self.budget, "eta": self.eta, "eval_episodes": self.eval_episodes,
                "num_envs": self.num_envs}


def _run_rung(spec: RaceSpec, alive: list[AlgorithmChoice], steps: int, root: Path, workers: int,
              ray_address: str | None, report: Callable) -> dict[str, dict[str, Any]]:
    """Train the arms still in the race to `steps` on every seed: {arm: {returns, seconds (mean per seed)}}."""
    grid = BenchmarkSpec(alive, [spec.env], spec.seeds, steps, spec.num_envs, spec.eval_episodes,
                         spec.cpus_per_trial)
    out = run_benchmark(grid, root, workers, report, ray_address)
    failed = [t for t in out["trials"] if t["status"] != "done"]
    if failed:
        raise MARLError("race-trial-failed", f"{failed[0]['algorithm']} seed {failed[0]['seed']} failed at "
                        f"{steps:,} steps: {failed[0].get('error', failed[0]['status'])}",
                        f"re-run the same command to retry it (finished trials are kept in {root})")
    measured = {}
    for arm in alive:
        runs = [t for t in out["trials"] if t["algorithm"] == arm.name]
        seconds = [json.loads((Path(t["run_dir"]) / "eval.json").read_text())["train_seconds_this_session"]
                   for t in runs]
        measured[arm.name] = {"returns": [t["return"] for t in runs], "seconds": sum(seconds) / len(seconds)}
    return measured


def run_race(spec: RaceSpec, raw_spec: str, root: Path, workers: int = 1, ray_address: str | None = None,
             progress: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
    """Every rung in turn; returns (and writes to race.json) each arm's IQM, CI and returns per rung, where it
    was stopped, its training seconds, the winner (the best IQM at the last rung; the earlier arm on a tie) and
    P(winner beats each other arm) at the arm's last rung."""
    report = progress or (lambda event: None)
    claim_bench_dir(root, raw_spec)
    alive = list(spec.arms)
    arms: dict[str, dict[str, Any]] = {a.name: {"algorithm": a.name, "rungs": [], "stopped_at": None,
                                                "train_seconds": 0.0} for a in spec.arms}
    # Each finished rung's evaluations, kept: the next rung overwrites the trials' eval.json, and a re-run of a
    # stopped race takes finished rungs from here instead of training again.
    done_path = root / "rungs.json"
    finished = json.loads(done_path.read_text(encoding="utf-8")) if done_path.exists() else []
    rungs = spec.rungs()
    for index, (steps, _) in enumerate(rungs):
        report({"event": "rung", "rung": index, "steps": steps, "arms": [a.name for a in alive]})
        if index < len(finished):
            measured = finished[index]
        else:
            measured = _run_rung(spec, alive, steps, root, workers, ray_address, report)
            finished.append(measured)
            atomic_write_bytes(done_path, json.dumps(finished).encode())
        for arm in alive:
            returns, seconds = measured[arm.name]["returns"], measured[arm.name]["seconds"]
            arms[arm.name]["rungs"].append({"steps": steps, "returns": returns, **summarise(returns)})
            arms[arm.name]["train_seconds"] += seconds
        ranked = sorted(alive, key=lambda a: -arms[a.name]["rungs"][-1]["iqm"])  # stable: ties keep spec order
        final = index == len(rungs) - 1
        if final:
            survivors = ranked
        else:  # the planned number go on, and any arm tied with the last of them (a tie is not a defeat)
            bar = arms[ranked[rungs[index + 1][1] - 1].name]["rungs"][-1]["iqm"]
            survivors = [a for a in ranked if arms[a.name]["rungs"][-1]["iqm"] >= bar]
        for arm in alive:
            if arm not in survivors or final:
                arms[arm.name]["stopped_at"] = steps
        alive = survivors
    winner = ranked[0].name
    rows = []
    for arm in spec.arms:
        a = arms[arm.name]
        last = a["rungs"][-1]
        rival = arms[winner]["rungs"][len(a["rungs"]) - 1]  # the winner at the rung where this arm stopped
        rows.append({**a, "iqm": last["iqm"], "ci95": last["ci95"], "steps": last["steps"],
                     "p_winner_beats_this": None if arm.name == winner else
                     probability_of_improvement(rival["returns"], last["returns"])})
    best = arms[winner]["rungs"][-1]["iqm"]
    tied = [a.name for a in ranked[1:] if arms[a.name]["rungs"][-1]["iqm"] == best]  # the winner's equals
    out = {"env": spec.env.env, "env_kwargs": spec.env.env_kwargs, "seeds": spec.seeds, "budget": spec.budget,
           "rungs": [s for s, _ in rungs], "winner": winner, "tied_with_winner": tied, "arms": rows}
    atomic_write_bytes(root / "race.json", json.dumps(out, indent=2).encode())
    return out
