"""A benchmark spec (YAML): algorithms x envs x seeds x config overrides, validated before anything runs.

    algorithms: [vdn, qmix]          # or {algorithm: qmix, set: {lr: 1e-3}, name: qmix-fast}
    envs: [matrix:climbing]          # or {env: mpe2:simple_spread_v3, env_kwargs: {N: 5}, name: spread5}
    seeds: [0, 1]                    # or "0-4"
    steps: 2000
    num_envs: 0                      # optional: 0 = each algorithm's default copy count
    eval_episodes: 32                # optional
    eval_deterministic: true         # optional: false evaluates with sampled actions (EPyMARL's MAPPO and IPPO do)
    cpus_per_trial: 1                # optional: the CPUs Ray reserves for each trial (--ray)

Every trial is one `marl train` run (one RunSpec) in its own directory under the benchmark directory."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import yaml

from algorithms.core.run_dir import RunSpec
from algorithms.errors import MARLError, did_you_mean
from algorithms.registry import get_entry, make, make_config

TOP_KEYS = {"algorithms", "envs", "seeds", "steps", "num_envs", "eval_episodes", "eval_deterministic", "cpus_per_trial"}
LABEL = re.compile(r"^[A-Za-z0-9_.-]+$")


@dataclass(frozen=True)
class AlgorithmChoice:
    algorithm: str
    set: dict[str, Any] = field(default_factory=dict)
    name: str = ""


@dataclass(frozen=True)
class EnvChoice:
    env: str
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    name: str = ""


@dataclass
class BenchmarkSpec:
    algorithms: list[AlgorithmChoice]
    envs: list[EnvChoice]
    seeds: list[int]
    steps: int
    num_envs: int = 0
    eval_episodes: int = 32
    cpus_per_trial: int = 1
    eval_deterministic: bool = True
    forced: list[str] = field(default_factory=list)
    """Not a YAML key: the guard's findings that `marl train --seeds ... --force` overrode, recorded in every
    trial's config.yaml as a single run records them."""


@dataclass(frozen=True)
class Trial:
    algorithm: AlgorithmChoice
    env: EnvChoice
    seed: int

    @property
    def key(self) -> tuple[str, str, int]:
        return self.algorithm.name, self.env.name, self.seed

    def run_dir(self, root: Path) -> Path:
        return root / self.algorithm.name / self.env.name / f"seed-{self.seed}"

    def run_spec(self, spec: BenchmarkSpec) -> RunSpec:
        return RunSpec(algo=self.algorithm.algorithm, env=self.env.env, env_kwargs=dict(self.env.env_kwargs),
                       steps=spec.steps, seed=self.seed, num_envs=spec.num_envs, device="cpu",
                       eval_episodes=spec.eval_episodes, eval_deterministic=spec.eval_deterministic,
                       config=dict(self.algorithm.set), forced=list(spec.forced))


def _bad(message: str, hint: str = "") -> MARLError:
    return MARLError("bad-benchmark-spec", message, hint or "see `marl benchmark --help` for the spec's format")


def _label(text: str) -> str:
    """A directory-safe label: 'mpe2:simple_spread_v3' -> 'simple_spread_v3'."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text.split(":")[-1]).strip("_") or "env"


def _mapping(item: Any, what: str, allowed: set[str], required: str) -> dict[str, Any]:
    if isinstance(item, str):
        return {required: item}
    if not isinstance(item, dict):
        raise _bad(f"each entry of '{what}' is a string or a mapping, got {item!r}")
    unknown = set(item) - allowed
    if unknown:
        key = sorted(unknown)[0]
        raise _bad(f"unknown key '{key}' in an entry of '{what}'", did_you_mean(key, allowed) or
                   f"keys: {', '.join(sorted(allowed))}")
    if not isinstance(item.get(required), str):
        raise _bad(f"an entry of '{what}' needs '{required}' (a string), got {item!r}")
    return item


def _seeds(value: Any) -> list[int]:
    if isinstance(value, str) and re.fullmatch(r"\s*\d+\s*-\s*\d+\s*", value):
        first, last = (int(v) for v in value.split("-"))
        if last < first:
            raise _bad(f"seeds '{value}': the range ends before it starts")
        return list(range(first, last + 1))
    if isinstance(value, int) and not isinstance(value, bool):
        return [value]
    if isinstance(value, list) and value and all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        if len(set(value)) != len(value):
            raise _bad(f"seeds {value} repeat a seed")
        return list(value)
    raise _bad(f"seeds must be a list of integers or a range like '0-4', got {value!r}")


def _positive_int(data: dict, key: str, default: int | None, minimum: int = 1) -> int:
    value = data.get(key, default)
    if value is None:
        raise _bad(f"the spec needs '{key}'")
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise _bad(f"'{key}' must be an integer of at least {minimum}, got {value!r}")
    return value


def _flag(data: dict, key: str, default: bool) -> bool:
    value = data.get(key, default)
    if not isinstance(value, bool):
        raise _bad(f"'{key}' must be true or false, got {value!r}")
    return value


def parse_spec(data: Any) -> BenchmarkSpec:
    """A spec from YAML data; every structural error is one MARLError (nothing is built here)."""
    if not isinstance(data, dict):
        raise _bad(f"a benchmark spec is a mapping with {', '.join(sorted(TOP_KEYS))}; got {type(data).__name__}")
    unknown = set(data) - TOP_KEYS
    if unknown:
        key = sorted(unknown)[0]
        raise _bad(f"unknown key '{key}'", did_you_mean(key, TOP_KEYS) or f"keys: {', '.join(sorted(TOP_KEYS))}")
    for key in ("algorithms", "envs"):
        if not isinstance(data.get(key), list) or not data[key]:
            raise _bad(f"'{key}' must be a non-empty list")
    algorithms = []
    for item in data["algorithms"]:
        item = _mapping(item, "algorithms", {"algorithm", "set", "name"}, "algorithm")
        overrides = item.get("set") or {}
        if not isinstance(overrides, dict):
            raise _bad(f"'set' of {item['algorithm']} must be a mapping of config fields, got {overrides!r}")
        algorithms.append(AlgorithmChoice(item["algorithm"], dict(overrides), str(item.get("name") or item["algorithm"])))
    envs = []
    for item in data["envs"]:
        item = _mapping(item, "envs", {"env", "env_kwargs", "name"}, "env")
        kwargs = item.get("env_kwargs") or {}
        if not isinstance(kwargs, dict):
            raise _bad(f"'env_kwargs' of {item['env']} must be a mapping, got {kwargs!r}")
        envs.append(EnvChoice(item["env"], dict(kwargs), str(item.get("name") or _label(item["env"]))))
    for what, names in (("algorithms", [a.name for a in algorithms]), ("envs", [e.name for e in envs])):
        for name in names:
            if not LABEL.fullmatch(name):
                raise _bad(f"name '{name}' in '{what}' must be letters, digits, '_', '.' or '-' (it names a folder)")
        if len(set(names)) != len(names):
            raise _bad(f"two entries of '{what}' share a name ({', '.join(names)})",
                       "give each a distinct 'name'")
    return BenchmarkSpec(algorithms, envs, _seeds(data.get("seeds")), _positive_int(data, "steps", None),
                         _positive_int(data, "num_envs", 0, minimum=0), _positive_int(data, "eval_episodes", 32),
                         _positive_int(data, "cpus_per_trial", 1), _flag(data, "eval_deterministic", True))


def read_spec_file(path: Path, what: str, bad: Callable[[str], MARLError]) -> Any:
    """A spec file's YAML data; a missing, unparsable or non-UTF-8 file is one MARLError (`bad` for the last two)."""
    if not path.is_file():
        raise MARLError("missing-spec", f"{what} {path} does not exist")
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        raise bad(f"{path} is not valid YAML: {err}") from None
    except UnicodeDecodeError:
        raise bad(f"{path} is not UTF-8 text") from None


def load_spec(path: Path) -> BenchmarkSpec:
    return parse_spec(read_spec_file(path, "benchmark spec", _bad))


def validate(spec: BenchmarkSpec) -> None:
    """Build every (algorithm, env) pair once on one env copy: an unknown algorithm, env, field or value, or an
    algorithm that cannot handle an env, is an error before any trial runs."""
    for choice in spec.algorithms:
        get_entry(choice.algorithm)
        make_config(choice.algorithm, choice.set, source=f"the spec's 'set' for {choice.name}")
    for env in spec.envs:
        for choice in spec.algorithms:
            try:
                algo = make(choice.algorithm, env.env, env_kwargs=env.env_kwargs, num_envs=1, seed=0, **choice.set)
            except MARLError as err:
                err.message = f"{choice.name} on {env.name}: {err.message}"
                raise
            algo.envs.close()


def conflict(made: Any, new: Any) -> str | None:
    """Why the spec data `new` cannot run in a directory that the spec data `made` made, or None when it can: it
    may add or drop seeds, algorithm entries and env entries, but every trial the two share (same names and seed)
    must be the same run, so the settings of each trial and the entries of both with one name must be equal."""
    try:
        old = parse_spec(made)
    except MARLError:
        return "the spec that made it no longer parses"
    spec = parse_spec(new)
    # The settings a trial takes from the spec as a whole: one trial built under each spec must be the same run.
    probe = Trial(old.algorithms[0], old.envs[0], old.seeds[0])
    before, now = vars(probe.run_spec(old)), vars(probe.run_spec(spec))
    for key, value in before.items():
        if now[key] != value:
            return f"{key} was {value}, this spec has {now[key]}"
    for kind, before, now in (("algorithm", old.algorithms, spec.algorithms), ("env", old.envs, spec.envs)):
        by_name = {entry.name: entry for entry in before}
        for entry in now:
            if by_name.get(entry.name, entry) != entry:
                return f"the {kind} entry '{entry.name}' was {_fields(by_name[entry.name])}, this spec has {_fields(entry)}"
    return None


def _fields(entry: AlgorithmChoice | EnvChoice) -> str:
    return ", ".join(f"{key}: {value!r}" for key, value in vars(entry).items() if key != "name")


def trials(spec: BenchmarkSpec) -> list[Trial]:
    return [Trial(a, e, s) for a in spec.algorithms for e in spec.envs for s in spec.seeds]


def selection(spec: BenchmarkSpec, names: list[str]) -> Callable[[Trial], bool]:
    """Which trials `--only NAME,...` runs: those of the named algorithm entries and env entries (names as in the
    run directories; naming only algorithms keeps every env, and the other way round). An unknown name is an error."""
    algorithms, envs = [a.name for a in spec.algorithms], [e.name for e in spec.envs]
    for name in names:
        if name not in algorithms and name not in envs:
            hint = did_you_mean(name, algorithms + envs)
            raise MARLError("bad-option", f"--only: '{name}' names no algorithm or env of the spec (algorithms: "
                            f"{', '.join(algorithms)}; envs: {', '.join(envs)})", hint or "")
    pick_a = {n for n in names if n in algorithms} or set(algorithms)
    pick_e = {n for n in names if n in envs} or set(envs)
    return lambda trial: trial.algorithm.name in pick_a and trial.env.name in pick_e
