"""A tuning spec (YAML): one algorithm on one env, a search space over its config fields, an ASHA schedule, and
fresh seeds for the winner. Validated before anything runs.

    algorithm: mappo
    env: mpe2:simple_spread_v3        # or {env: ..., env_kwargs: {N: 5}}
    steps: 200000                     # the full budget of a configuration that is never stopped
    samples: 12                       # configurations drawn from the space
    search:
      lr: {loguniform: [1.0e-4, 3.0e-3]}
      entropy_coef: {uniform: [0.0, 0.02]}
      epochs: {randint: [4, 15]}      # both ends included
      activation: {choice: [tanh, relu]}
    set: {gamma: 0.99}                # optional: fixed fields for every configuration
    report_every: 20000               # optional: env steps between evaluations (ASHA's clock); default steps/10
    grace_steps: 20000                # optional: no configuration is stopped before this; default report_every
    reduction_factor: 3               # optional: ASHA keeps the best 1/3 at each rung
    eval_episodes: 16                 # optional: deterministic episodes per evaluation
    seed: 0                           # optional: the seed every search trial trains with, and the sampler's
    final_seeds: [100, 101, 102, 103, 104]   # optional: the best configuration (and the defaults) re-run on these
    baseline: true                    # optional: also re-run the algorithm's defaults on the final seeds
    num_envs: 0                       # optional: 0 = the algorithm's default copy count
    cpus_per_trial: 1                 # optional: CPUs Ray reserves for each trial
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from algorithms.errors import MARLError, did_you_mean
from algorithms.registry import config_fields, get_entry, make, make_config
from algorithms.training.benchmark_spec import (AlgorithmChoice, BenchmarkSpec, EnvChoice, _label, _positive_int,
                                                _seeds, read_spec_file)

TOP_KEYS = {"algorithm", "env", "steps", "samples", "search", "set", "report_every", "grace_steps",
            "reduction_factor", "eval_episodes", "seed", "final_seeds", "baseline", "num_envs", "cpus_per_trial"}
KINDS = ("loguniform", "uniform", "randint", "choice")


def _bad(message: str, hint: str = "") -> MARLError:
    return MARLError("bad-tune-spec", message, hint or "see `marl tune --help` for the spec's format")


@dataclass(frozen=True)
class Dimension:
    """One searched config field: `kind` is loguniform / uniform / randint (both ends included) / choice."""

    name: str
    kind: str
    values: tuple

    def sample(self, rng: np.random.Generator) -> Any:
        if self.kind == "choice":
            return self.values[int(rng.integers(len(self.values)))]
        lo, hi = self.values
        if self.kind == "randint":
            return int(rng.integers(lo, hi + 1))
        if self.kind == "loguniform":
            return float(math.exp(rng.uniform(math.log(lo), math.log(hi))))
        return float(rng.uniform(lo, hi))

    def extremes(self) -> list[Any]:
        """Values that must all be valid for the field (both bounds, or every choice)."""
        return list(self.values)


@dataclass
class TuneSpec:
    algorithm: str
    env: EnvChoice
    steps: int
    samples: int
    search: list[Dimension]
    fixed: dict[str, Any] = field(default_factory=dict)
    report_every: int = 0
    grace_steps: int = 0
    reduction_factor: int = 3
    eval_episodes: int = 16
    seed: int = 0
    final_seeds: list[int] = field(default_factory=lambda: [100, 101, 102, 103, 104])
    baseline: bool = True
    num_envs: int = 0
    cpus_per_trial: int = 1

    def budgets(self) -> list[int]:
        """The env-step counts at which every search trial is evaluated (and may be stopped)."""
        return sorted({min(k * self.report_every, self.steps)
                       for k in range(1, -(-self.steps // self.report_every) + 1)})

    def configurations(self) -> list[dict[str, Any]]:
        """`samples` configurations drawn from the space with the spec's seed: the same spec, the same draws."""
        rng = np.random.default_rng(self.seed)
        return [{**self.fixed, **{d.name: d.sample(rng) for d in self.search}} for _ in range(self.samples)]

    def final_benchmark(self, best: dict[str, Any]) -> BenchmarkSpec:
        """The best configuration (and, with `baseline`, the defaults plus the fixed fields) on the final seeds."""
        arms = [AlgorithmChoice(self.algorithm, dict(best), "best")]
        if self.baseline:
            arms.append(AlgorithmChoice(self.algorithm, dict(self.fixed), "defaults"))
        return BenchmarkSpec(arms, [self.env], list(self.final_seeds), self.steps, self.num_envs,
                             self.eval_episodes, self.cpus_per_trial)


def _dimension(name: str, value: Any) -> Dimension:
    if not isinstance(value, dict) or len(value) != 1:
        raise _bad(f"search field '{name}' must be one of {{{': ..., '.join(KINDS)}: ...}}, got {value!r}")
    kind, args = next(iter(value.items()))
    if kind not in KINDS:
        raise _bad(f"search field '{name}': unknown distribution '{kind}'", did_you_mean(kind, KINDS) or
                   f"distributions: {', '.join(KINDS)}")
    if kind == "choice":
        if not isinstance(args, list) or not args:
            raise _bad(f"search field '{name}': choice needs a non-empty list, got {args!r}")
        return Dimension(name, kind, tuple(args))
    numbers = isinstance(args, list) and len(args) == 2 and all(
        isinstance(v, (int, float)) and not isinstance(v, bool) for v in args)
    if not numbers or not args[0] < args[1]:
        raise _bad(f"search field '{name}': {kind} needs [low, high] with low < high, got {args!r}")
    if kind == "randint" and not all(isinstance(v, int) for v in args):
        raise _bad(f"search field '{name}': randint bounds are integers, got {args!r}")
    if kind == "loguniform" and args[0] <= 0:
        raise _bad(f"search field '{name}': loguniform needs a positive low bound, got {args[0]!r}")
    return Dimension(name, kind, (args[0], args[1]) if kind == "randint" else (float(args[0]), float(args[1])))


def parse_tune_spec(data: Any) -> TuneSpec:
    """A spec from YAML data; every structural error is one MARLError (nothing is built here)."""
    if not isinstance(data, dict):
        raise _bad(f"a tuning spec is a mapping with {', '.join(sorted(TOP_KEYS))}; got {type(data).__name__}")
    unknown = set(data) - TOP_KEYS
    if unknown:
        key = sorted(unknown)[0]
        raise _bad(f"unknown key '{key}'", did_you_mean(key, TOP_KEYS) or f"keys: {', '.join(sorted(TOP_KEYS))}")
    if not isinstance(data.get("algorithm"), str):
        raise _bad("the spec needs 'algorithm' (one algorithm id)")
    env = data.get("env")
    if isinstance(env, str):
        env = {"env": env}
    if not isinstance(env, dict) or not isinstance(env.get("env"), str) or set(env) - {"env", "env_kwargs"}:
        raise _bad(f"'env' is an env string or {{env: ..., env_kwargs: {{...}}}}, got {data.get('env')!r}")
    if not isinstance(env.get("env_kwargs") or {}, dict):
        raise _bad(f"'env_kwargs' must be a mapping, got {env['env_kwargs']!r}")
    search = data.get("search")
    if not isinstance(search, dict) or not search:
        raise _bad("'search' must map config fields to distributions, e.g. lr: {loguniform: [1.0e-4, 3.0e-3]}")
    fixed = data.get("set") or {}
    if not isinstance(fixed, dict):
        raise _bad(f"'set' must be a mapping of config fields, got {fixed!r}")
    both = sorted(set(fixed) & set(search))
    if both:
        raise _bad(f"'{both[0]}' is both searched and fixed in 'set'", "keep it in one of them")
    steps = _positive_int(data, "steps", None)
    report_every = _positive_int(data, "report_every", max(1, steps // 10))
    if report_every > steps:
        raise _bad(f"report_every ({report_every:,}) is larger than steps ({steps:,})")
    spec = TuneSpec(
        algorithm=data["algorithm"], env=EnvChoice(env["env"], dict(env.get("env_kwargs") or {}), _label(env["env"])),
        steps=steps, samples=_positive_int(data, "samples", 8),
        search=[_dimension(str(k), v) for k, v in search.items()], fixed=dict(fixed), report_every=report_every,
        grace_steps=_positive_int(data, "grace_steps", report_every),
        reduction_factor=_positive_int(data, "reduction_factor", 3, minimum=2),
        eval_episodes=_positive_int(data, "eval_episodes", 16), seed=_positive_int(data, "seed", 0, minimum=0),
        final_seeds=_seeds(data.get("final_seeds", [100, 101, 102, 103, 104])),
        baseline=bool(data.get("baseline", True)), num_envs=_positive_int(data, "num_envs", 0, minimum=0),
        cpus_per_trial=_positive_int(data, "cpus_per_trial", 1))
    if not isinstance(data.get("baseline", True), bool):
        raise _bad(f"'baseline' is true or false, got {data['baseline']!r}")
    if spec.grace_steps > steps:
        raise _bad(f"grace_steps ({spec.grace_steps:,}) is larger than steps ({steps:,})")
    if spec.seed in spec.final_seeds:
        raise _bad(f"final_seeds include {spec.seed}, the seed the search trained with",
                   "the best configuration is re-run on fresh seeds: choose others")
    return spec


def load_tune_spec(path: Path) -> TuneSpec:
    return parse_tune_spec(read_spec_file(path, "tuning spec", _bad))


def validate_tune_spec(spec: TuneSpec) -> None:
    """Every searched field exists and both ends of its range (every choice) make a valid config; the algorithm
    builds on the env. Nothing runs on a bad spec."""
    get_entry(spec.algorithm)
    known = config_fields(spec.algorithm)
    for dim in spec.search:
        if dim.name not in known:
            raise _bad(f"{spec.algorithm} has no config field '{dim.name}'",
                       did_you_mean(dim.name, known) or f"fields: {', '.join(sorted(known))}")
        for value in dim.extremes():
            make_config(spec.algorithm, {**spec.fixed, dim.name: value},
                        source=f"the search range of '{dim.name}'")
    make_config(spec.algorithm, spec.fixed, source="the spec's 'set'")
    first = spec.configurations()[0]
    try:
        algo = make(spec.algorithm, spec.env.env, env_kwargs=spec.env.env_kwargs, num_envs=1, seed=0, **first)
    except MARLError as err:
        err.message = f"{spec.algorithm} on {spec.env.env}: {err.message}"
        raise
    algo.envs.close()
