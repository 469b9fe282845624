"""Compatibility matrix: every environment that installs here x every bundled algorithm -> docs/compatibility.md.

Envs are discovered: the env modules of pettingzoo.classic / sisl / butterfly, mpe2 and magent2 (small map), the
deprecated stand-in for each one's previous version, BUILTIN_ENVS, GYMMA_IDS; a row per action-space variant too.
Each cell, in this process under a wall-clock alarm and an address-space cap: algorithms.make(ALGO, ENV, num_envs=2,
seed=0, env_kwargs=..., **SMALL.get(ALGO, {})), .learn(STEPS), predict() on a fresh env, checked and stepped once.
It reads trains | refused: CODE (MARLError) | env raised (EnvError) | no update | slow: N steps (not a failure) |
TRACEBACK (anything else: a bug; listed at the end, exit status 1).

    .venv/bin/python -m benchmarks.compat_matrix                      # everything: about an hour on 2 cores
    .venv/bin/python -m benchmarks.compat_matrix --envs spread,climbing --algorithms mappo,qmix --out /tmp/c.md
"""
from __future__ import annotations

import argparse, contextlib, datetime, importlib, json, math, pkgutil, re, resource, signal, sys, time, traceback
import ctypes, gc, inspect, warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from pettingzoo.utils.env import ParallelEnv

import algorithms
import algorithms.errors
from algorithms.core.env_registry import BUILTIN_ENVS, env_parameters, make_env, resolve_env_factory

EnvError = getattr(algorithms.errors, "EnvError", ())  # the env's own exception, wrapped (absent in older trees)
PZ_FAMILIES = [("pettingzoo.classic", "pettingzoo.classic"), ("pettingzoo.sisl", "pettingzoo.sisl"),
               ("pettingzoo.butterfly", "pettingzoo.butterfly"), ("mpe2", "mpe2"), ("magent2", "magent2.environments")]
GYMMA_IDS = ["lbforaging:Foraging-8x8-2p-2f-coop-v3", "lbforaging:Foraging-10x10-3p-3f-v3", "rware:rware-tiny-2ag-v2"]
MAGENT_MAP_SIZE, MAGENT_MIN_MAP = 16, {"battlefield_v5": 46}  # battlefield asserts map_size >= 46
EXTRA_VARIANTS = {"pettingzoo.butterfly:knights_archers_zombies_v11": [{"obs_method": "image"}],
                  "batched:simple_spread_v3": [{"continuous_actions": True}]}
# Only where the defaults cannot learn at all within a few hundred env steps (the first update comes later):
SMALL = {"mappo": {"batch_steps": 128}, "ippo": {"batch_steps": 128},
         "maddpg": {"learning_starts": 100, "batch_size": 32}, "mfq": {"learning_starts": 100},
         **{a: {"batch_size": 4, "max_episode_len": 50} for a in ("iql", "vdn", "qmix", "qplex")}}
STATUSES = ("trains", "refused", "slow", "no update", "env raised", "TRACEBACK")


class CellTimeout(BaseException):
    """Raised by the alarm (ring); a BaseException so that the library's `except Exception` wrappers let it through."""
    @staticmethod
    def ring(*_) -> None:
        raise CellTimeout()


@dataclass
class Row:
    family: str
    env_id: str
    kwargs: dict = field(default_factory=dict)
    problem: str = ""  # why no cells: "deprecated: use ..." or "not built: ..."

    @property
    def label(self) -> str:
        return " ".join([f"`{self.env_id.partition(':')[2]}`"] + [f"{k}={v}" for k, v in self.kwargs.items()])


@dataclass
class Cell:
    row: Row
    algo: str
    status: str = ""  # trains | refused | env raised | no update | slow | TRACEBACK
    code: str = ""    # MARLError.code
    message: str = ""
    steps: int = 0
    seconds: float = 0.0
    traceback: str = ""


def env_modules(package: str) -> list[str]:
    return sorted(m.name for m in pkgutil.iter_modules(importlib.import_module(package).__path__)
                  if re.fullmatch(r"[a-z_]+_v\d+", m.name))


def variants(family: str, env_id: str, kwargs: dict | None = None) -> list[Row]:
    """The env's row, plus one per boolean action-space switch flipped from its default, plus EXTRA_VARIANTS."""
    rows = [Row(family, env_id, dict(kwargs or {}))]
    params = {}
    with contextlib.suppress(algorithms.MARLError):  # build_problem() reports it
        params = env_parameters(env_id, resolve_env_factory(env_id)) or {}
    for key in ("continuous_actions", "continuous"):
        if isinstance(params.get(key), bool):
            rows.append(Row(family, env_id, {**rows[0].kwargs, key: not params[key]}))
    return rows + [Row(family, env_id, {**rows[0].kwargs, **extra}) for extra in EXTRA_VARIANTS.get(env_id, [])]


def discover() -> list[Row]:
    rows: list[Row] = []
    for family, package in PZ_FAMILIES:
        try:
            names = env_modules(package)
        except ImportError as err:
            rows.append(Row(family, f"{package}:*", problem=f"not built: {err}"))
            continue
        for name in names:
            env_id, (stem, version) = f"{package}:{name}", name.rsplit("_v", 1)
            small = family == "magent2" and "map_size" in inspect.signature(resolve_env_factory(env_id)).parameters
            rows += variants(family, env_id, {"map_size": MAGENT_MIN_MAP.get(name, MAGENT_MAP_SIZE)} if small else {})
            older = f"{stem}_v{int(version) - 1}"  # PettingZoo's stand-in for the previous version, if it has one
            if type(getattr(importlib.import_module(package), older, None)).__name__ == "DeprecatedModule":
                rows.append(Row(family, f"{package}:{older}", problem=f"deprecated: use `{name}`"))
    for prefix, games in BUILTIN_ENVS.items():
        rows += [r for name in sorted(games) for r in variants(f"built-in {prefix}", f"{prefix}:{name}")]
    return rows + [r for env_id in GYMMA_IDS for r in variants("Gymnasium multi-agent", env_id)]


def build_problem(row: Row, seconds: int) -> str:
    """'' when one copy of the env builds, resets and closes within the budget, else why not."""
    try:
        signal.alarm(seconds)
        env = make_env(row.env_id, row.kwargs)
        env.reset(seed=0)
        env.close()
        return ""
    except CellTimeout:
        return f"not built: no reset within {seconds} s"
    except algorithms.MARLError as err:
        successor = re.search(r"use '[^':]*:(\w+)'", err.hint or "") if err.code == "deprecated-env" else None
        return f"deprecated: use `{successor.group(1)}`" if successor else f"not built: {err}"
    except Exception as err:
        return f"not built: {type(err).__name__}: {err}"
    finally:
        signal.alarm(0)


def check_predict(algo, row: Row) -> None:
    """predict() on a fresh copy of the env (the user's own loop): the actions must be valid; step once with them."""
    env = make_env(row.env_id, row.kwargs)
    try:
        if isinstance(env, ParallelEnv):
            obs, infos = env.reset(seed=1)
            actions = predict(algo, env, obs, infos=infos)
            masks = {a: (infos.get(a) or {}).get("action_mask") for a in actions}
        else:
            env.reset(seed=1)
            (obs, *_), agent = env.last(), env.agent_selection
            actions = {agent: predict(algo, env, obs, agent)}
            masks = {agent: obs.get("action_mask") if isinstance(obs, dict) else None}
        for agent, action in actions.items():
            if not env.action_space(agent).contains(action):
                raise AssertionError(f"predict() gave {agent} the action {action!r}, outside {env.action_space(agent)}")
            if masks[agent] is not None and not masks[agent][int(action)]:
                raise AssertionError(f"predict() gave {agent} the masked-out action {action!r}")
        env.step(actions if isinstance(env, ParallelEnv) else actions[env.agent_selection])
    finally:
        env.close()


def predict(algo, env, obs, agent=None, infos=None):
    for with_state in (False, True):  # env.state() only where asked (Nash-Q on envs whose state is not the obs)
        try:
            return algo.predict(obs, agent=agent, episode_start=True, state=env.state() if with_state else None,
                                infos=infos)
        except algorithms.MARLError as err:  # it learnt on this env, so predict() refusing it is a bug
            if err.code != "needs-state" or with_state:
                raise AssertionError(f"predict() raised MARLError({err.code}): {err}") from err


def run_cell(row: Row, algo_id: str, steps: int, seconds: int) -> Cell:
    cell, small = Cell(row, algo_id), SMALL.get(algo_id, {})
    algo, losses, phase, start = None, set(), "make", time.monotonic()
    saw = lambda _, metrics: losses.update(k for k, v in metrics.items() if k.startswith("losses/")
                                           and isinstance(v, float) and math.isfinite(v))
    try:
        try:  # the inner finally stops the alarm before any handler below runs
            signal.alarm(seconds)
            algo = algorithms.make(algo_id, row.env_id, num_envs=2, seed=0, env_kwargs=row.kwargs, **small)
            phase = "learn"
            algo.learn(steps, saw)
            phase = "predict"
            modules = [m for m in vars(algo).values() if isinstance(m, torch.nn.Module)]
            if not all(torch.isfinite(p).all() for m in modules for p in m.parameters()):
                raise AssertionError("non-finite weights after learning")
            check_predict(algo, row)
            cell.status = "trains" if losses else "no update"
        finally:
            signal.alarm(0)
    except CellTimeout:
        cell.status, cell.message = "slow", f"{phase} still running after {seconds} s"
    except EnvError as err:
        cell.status, cell.code, cell.message = "env raised", err.code, f"in {phase}: {err}"
        cell.traceback = "".join(traceback.format_exception(err.__cause__)) if err.__cause__ else ""
    except algorithms.MARLError as err:
        cell.status, cell.code, cell.message = "refused", err.code, f"{err}{f' (in {phase})' * (phase != 'make')}"
    except Exception as err:
        cell.status, cell.message = "TRACEBACK", f"{type(err).__name__}: {err} (in {phase})"
        cell.traceback = traceback.format_exc()
    finally:
        if algo is not None:
            cell.steps = algo.env_steps
            with contextlib.suppress(Exception):
                algo.envs.close()
    cell.seconds = round(time.monotonic() - start, 1)
    return cell


def short(cell: Cell, note=None) -> str:
    """The cell's text in the table; `note(text)` numbers the full message under the table."""
    text = {"slow": f"slow: {cell.steps} steps"}.get(cell.status, cell.status)
    if cell.status == "refused":
        kind = re.search(r"on (\w+) actions", cell.message) if cell.code == "unsupported-action-space" else None
        text = f"refused: {kind.group(1) + ' actions' if kind else cell.code}"
    if note and cell.status in ("refused", "env raised", "TRACEBACK"):
        message = cell.message.replace(cell.row.env_id, "ENV").replace(f"'{cell.algo}'", "'ALGO'")
        message = re.sub(r"\d+ agents \([^)]*\)", "N agents", message)  # one note for every agent count
        text += " " + note(f"{cell.status}: {message}".replace("|", "\\|"))
    return text


def write_markdown(path: Path, rows: list[Row], cells: dict, algos: list[str], args, took: float) -> None:
    regen = f" --steps {args.steps} --seconds {args.seconds}"
    counts = ", ".join(f"{sum(c.status == s for c in cells.values())} {s}" for s in STATUSES)
    small = "; ".join(f"`{a}` " + ", ".join(f"{k}={v} (default {getattr(algorithms.ALGORITHMS[a].config_cls, k)})"
                                              for k, v in o.items()) for a, o in SMALL.items() if a in algos)
    lines = ["# Compatibility: environments x bundled algorithms", "",
             f"Generated by `benchmarks/compat_matrix.py` on {datetime.date.today()} on a 2-core CPU machine (one "
             f"torch thread, {args.memory_gb:g} GB address-space cap), {len(cells)} cells in {took / 60:.0f} min. "
             "Regenerate with", "", "    .venv/bin/python -m benchmarks.compat_matrix" + regen, "",
             f"Each cell is `algorithms.make(ALGO, ENV, num_envs=2, seed=0, env_kwargs=...)`, `.learn({args.steps})` "
             "(env steps summed over the 2 copies), then `predict` on a fresh copy of the env, its actions checked "
             f"against the action space and mask and stepped once; in one process, {args.seconds} s per cell.", "",
             "- **trains**: it learnt (at least one finite loss, finite weights) and `predict` gave valid actions.",
             "- **refused: REASON [n]**: `make` (or `learn`, where the note says so) raised `algorithms.MARLError`, "
             "the library's own refusal; note n under the table has the message (ENV, ALGO: this cell's).",
             "- **no update**: it ran the budget without a single finite loss (warm-up not reached).",
             f"- **slow: N steps**: the {args.seconds} s ran out after N env steps; not a failure.",
             "- **env raised [n]**: the environment itself raised (`EnvError`).",
             "- **TRACEBACK [n]**: anything else (or `predict` failing after training): a bug. An allocation failure "
             f"(MemoryError, can't allocate memory) means more than the {args.memory_gb:g} GB cap.",
             "- A row of —: the env did not build here, or is PettingZoo's stand-in for an old version.", "",
             f"Small settings, only where the defaults make no update within {args.steps} steps: {small or 'none'}. "
             "The other algorithms run with their defaults, the envs with theirs except the keyword arguments in "
             f"the row (magent2: `map_size={MAGENT_MAP_SIZE}`, battlefield 46, to keep it fast).", "",
             f"Totals: {counts}.", "", "TRACEBACK cells (bugs):", ""]
    lines += ([f"- {c.row.label} x `{c.algo}`: {c.message}" for c in cells.values() if c.status == "TRACEBACK"]
              or ["- none"]) + [""]
    for family in dict.fromkeys(r.family for r in rows):
        members = [(i, r) for i, r in enumerate(rows) if r.family == family]
        prefixes = ", ".join(f"`{p}:NAME`" for p in sorted({r.env_id.partition(":")[0] for _, r in members}))
        notes: dict[str, int] = {}
        note = lambda text: f"[{notes.setdefault(text, len(notes) + 1)}]"
        lines += [f"## {family} ({prefixes})", "", "| env | " + " | ".join(algos) + " |",
                  "|---" * (len(algos) + 1) + "|"]
        for i, r in members:
            problem = note(r.problem) if r.problem.startswith("not built") else r.problem
            out = ["—"] * len(algos) if r.problem else [short(cells[i, a], note) for a in algos]
            lines.append(f"| {r.label} {problem} | ".replace("  |", " |") + " | ".join(out) + " |")
        lines += [""] + [f"{n}. {text}" for text, n in notes.items()] + [""]
    path.write_text("\n".join(lines))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--envs", default="", help="comma-separated substrings of env ids to keep")
    parser.add_argument("--algorithms", default="", help="comma-separated substrings of algorithm ids to keep")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "docs/compatibility.md")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--memory-gb", type=float, default=12.0, help="address-space cap (MemoryError, not OOM kill)")
    args = parser.parse_args(argv)
    with contextlib.suppress(OSError, AttributeError):  # glibc: a fixed mmap threshold, so freed buffers leave
        ctypes.CDLL("libc.so.6").mallopt(-3, 1 << 20)     # the address space (M_MMAP_THRESHOLD; else the cap fills)
    resource.setrlimit(resource.RLIMIT_AS, (int(args.memory_gb * 2**30), resource.getrlimit(resource.RLIMIT_AS)[1]))
    warnings.simplefilter("ignore")
    torch.set_num_threads(1)
    signal.signal(signal.SIGALRM, CellTimeout.ring)
    keep = lambda text, filt: not filt or any(s in text for s in filt.split(","))
    algos = [a for a in algorithms.ALGORITHMS if keep(a, args.algorithms)]
    rows = [r for r in discover() if keep(r.env_id, args.envs)]
    start, cells = time.monotonic(), {}
    for i, row in enumerate(rows):
        row.problem = row.problem or build_problem(row, args.seconds)
        print(f"[{i + 1}/{len(rows)}] {row.env_id} {row.kwargs or ''} {row.problem}", flush=True)
        for a in ([] if row.problem else algos):
            c = cells[i, a] = run_cell(row, a, args.steps, args.seconds)
            gc.collect()  # algorithms hold reference cycles: free the cell's networks and buffers before the next
            rss = int(Path("/proc/self/statm").read_text().split()[1]) * resource.getpagesize() / 2**30
            print(f"    {a:18} {short(c):28} {c.seconds:6.1f} s {rss:5.1f} GB  {c.message[:150]}", flush=True)
        if args.json:  # after every row, so that an interrupted run keeps what it did
            args.json.write_text(json.dumps({"rows": [asdict(r) for r in rows],
                                             "cells": [asdict(c) for c in cells.values()]}, indent=1))
    write_markdown(args.out, rows, cells, algos, args, took := time.monotonic() - start)
    print(f"\nwrote {args.out} ({len(cells)} cells, {took / 60:.1f} min)\n\nnot built or deprecated: "
          f"{sum(bool(r.problem) for r in rows)}")
    print("".join(f"  {r.env_id} {r.kwargs or ''}: {r.problem}\n" for r in rows if r.problem), end="")
    for status in STATUSES[2:]:
        found = [c for c in cells.values() if c.status == status]
        print(f"\n{status}: {len(found)}")
        for c in found:
            print(f"  {c.row.env_id} {c.row.kwargs or ''} x {c.algo}: {c.message} ({c.steps} steps, {c.seconds} s)")
            if c.traceback:
                print("    " + "    ".join(c.traceback.strip().splitlines(True)[-5:]))
    return 1 if any(c.status == "TRACEBACK" for c in cells.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
