"""`marl train ALGO --env ENV`: train an algorithm into a run directory, or `--resume RUN_DIR`."""
from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any, Optional

import typer
import yaml
from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from advisor.console import console, handles_errors, print_references
from advisor.errors import AdvisorError
from advisor.guard import guard_training
from advisor.progress_view import ProgressView
from advisor.cli_options import parse_set_options
from advisor.cli_options import parse_env_kwargs
from advisor.commands.benchmark_cmd import train_seeds
from algorithms.registry import make_config
from algorithms.training.run import RunSpec, Trainer, default_run_dir


RUN_KEYS = {f.name for f in dataclasses.fields(RunSpec)}
RUN_TYPES = {"algo": str, "env": str, "env_kwargs": dict, "config": dict, "forced": list, "device": str, "steps": int,
             "seed": int,
             "num_envs": int, "checkpoint_every": int, "eval_episodes": int, "threads": int,
             "checkpoint_seconds": (int, float), "eval_deterministic": bool}
RUN_TYPE_WORDS = {str: "a string", dict: "a mapping", list: "a list", int: "an integer", (int, float): "a number",
                  bool: "true or false"}


def _config_file(path: Optional[Path]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(run settings, config overrides) from --config: a mapping of config fields, or a run's own config.yaml
    (or `marl tune`'s best.yaml): algo, env, steps, ... with the config fields under `config`."""
    if path is None:
        return {}, {}
    if not path.is_file():
        raise AdvisorError("missing-config", f"config file {path} does not exist")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as err:
        raise AdvisorError("bad-config-file", f"{path} is not valid YAML: {err}") from None
    except UnicodeDecodeError:
        raise AdvisorError("bad-config-file", f"{path} is not UTF-8 text", "a config file is YAML: field: value lines") from None
    if not isinstance(data, dict):
        raise AdvisorError("bad-config-file", f"{path} must hold a mapping of config fields, got {type(data).__name__}")
    if "algo" not in data:
        return {}, data
    unknown = sorted(set(data) - RUN_KEYS)
    if unknown:
        raise AdvisorError("bad-config-file", f"{path} is a run config (it names 'algo') with an unknown key "
                           f"'{unknown[0]}'", f"a run config's keys: {', '.join(sorted(RUN_KEYS))}")
    run = {k: v for k, v in data.items() if k != "config"}
    config = data.get("config") or {}
    for key, kinds in RUN_TYPES.items():
        value = data.get(key)
        if key in data and (not isinstance(value, kinds) or (isinstance(value, bool) and kinds is not bool)):
            raise AdvisorError("bad-config-file", f"{path}: '{key}' must be {RUN_TYPE_WORDS[kinds]}, got {value!r}")
    return run, config


def _merge_run(run: dict[str, Any], path: Optional[Path], algo: Optional[str], given: dict[str, Any]) -> dict[str, Any]:
    """The run settings: what the command line gave, else the run config's, else the defaults."""
    if run and algo is not None and algo != run["algo"]:
        raise AdvisorError("bad-config-file", f"{path} holds {run['algo']}'s config, but the command trains {algo}",
                           f"drop ALGO (the file names it), or train {run['algo']}")
    defaults = {"steps": 100_000, "seed": 0, "num_envs": 0, "device": "auto", "checkpoint_every": 50_000,
                "eval_episodes": 32, "eval_deterministic": True, "threads": 1}
    merged = {**defaults, **run, **{k: v for k, v in given.items() if v is not None}}
    merged["algo"] = algo or run.get("algo")
    return merged


@handles_errors
def train(
    algo: Optional[str] = typer.Argument(None, help="Algorithm id (see `marl algorithms`)."),
    env: Optional[str] = typer.Option(None, "--env", help="PettingZoo env, e.g. mpe2:simple_spread_v3."),
    env_kwarg: Optional[list[str]] = typer.Option(None, "--env-kwarg", help="Env keyword argument KEY=VALUE (repeatable)."),
    steps: Optional[int] = typer.Option(None, "--steps", help="Total environment steps (summed over copies). \\[default: 100000]"),
    seed: Optional[int] = typer.Option(None, "--seed", help="Seed for networks, sampling and env resets. \\[default: 0]"),
    num_envs: Optional[int] = typer.Option(None, "--num-envs", help="Environment copies stepped together. "
                                           "\\[default: the algorithm's measured choice for the backend, shown by "
                                           "`marl algorithms`]"),
    config: Optional[Path] = typer.Option(None, "--config", help="YAML file of config fields to override, or a run's "
                                          "own config.yaml (or `marl tune`'s best.yaml): its algorithm, env and "
                                          "settings are the defaults that ALGO, --env and the other options override."),
    set_: Optional[list[str]] = typer.Option(None, "--set", help="Override one config field KEY=VALUE (repeatable)."),
    device: Optional[str] = typer.Option(None, "--device", help="auto, cpu or cuda. \\[default: auto]"),
    out: Optional[Path] = typer.Option(None, "--out", help="Run directory (default runs/ALGO-ENV-TIMESTAMP); must be new or empty."),
    resume: Optional[Path] = typer.Option(None, "--resume", help="Continue the run in this directory from its last checkpoint."),
    checkpoint_every: Optional[int] = typer.Option(None, "--checkpoint-every", help="Checkpoint every this many env "
                                                   "steps (and after every 60 s of training, so a run killed early can "
                                                   "resume). \\[default: 50000]"),
    eval_episodes: Optional[int] = typer.Option(None, "--eval-episodes", help="Episodes for the evaluation written to "
                                                "eval.json. \\[default: 32]"),
    eval_stochastic: bool = typer.Option(False, "--eval-stochastic", help="Evaluate with sampled actions, not "
                                         "greedy (or mean) ones; eval.json says which. EPyMARL evaluates its MAPPO "
                                         "and IPPO this way; greedy agents can block each other for good (LBF)."),
    threads: Optional[int] = typer.Option(None, "--threads", help="Torch CPU threads (small networks are fastest on 1; "
                                          "results depend on it). \\[default: 1]"),
    seeds: Optional[str] = typer.Option(None, "--seeds", help="Several seeds ('0-4' or '0,2,5') as one benchmark "
                                        "(`marl benchmark`): a run directory per seed under --out (default "
                                        "runs/ALGO-ENV-seeds-FIRST-LAST), statistics over seeds; re-run to resume."),
    workers: int = typer.Option(1, "--workers", help="With --seeds: seeds trained side by side in local processes."),
    force: bool = typer.Option(False, "--force", help="Train even where the guard finds that ALGO does not fit ENV "
                               "(`marl check ALGO --env ENV` shows why); the override is recorded in config.yaml."),
) -> None:
    """Train ALGO on ENV, logging to a run directory (metrics.csv, TensorBoard, checkpoints, eval.json)."""
    run, overrides = _config_file(config)
    overrides = {**overrides, **parse_set_options(set_)}
    given = {"steps": steps, "seed": seed, "num_envs": num_envs, "device": device, "checkpoint_every": checkpoint_every,
             "eval_episodes": eval_episodes, "eval_deterministic": False if eval_stochastic else None, "threads": threads}
    if resume is not None:
        if seeds is not None:
            raise AdvisorError("bad-option", "--seeds needs ALGO and --env (not --resume): re-running the same "
                               "command resumes its seeds")
        if algo or env or config or set_ or env_kwarg or eval_stochastic:
            raise AdvisorError("bad-resume", "--resume takes the algorithm, env, config and evaluation settings from "
                               "the run directory", "drop ALGO, --env, --config, --set, --env-kwarg and "
                               "--eval-stochastic, or start a new run without --resume")
        trainer = Trainer.resume(resume, steps)
        run_dir = resume
        console.print(f"resuming [bold]{trainer.spec.algo}[/] on {trainer.spec.env} at step "
                      f"{trainer.algo.env_steps:,} ({'env state restored' if trainer.env_restored else 'envs reseeded: they could not be saved'})")
    else:
        merged = _merge_run(run, config, algo, given)
        algo, env_kwargs = merged["algo"], parse_env_kwargs(env_kwarg)
        if env is None or env == run.get("env"):  # the run config's env, with its kwargs under the command line's
            env, env_kwargs = run.get("env"), {**(run.get("env_kwargs") or {}), **env_kwargs}
        if algo is None or env is None:
            raise AdvisorError("missing-argument", "give an algorithm and --env (or --resume RUN_DIR)",
                               "e.g. marl train mappo --env mpe2:simple_spread_v3")
        for name in ("steps", "num_envs", "checkpoint_every", "eval_episodes"):
            # num_envs 0 in a run config means the algorithm's default; on the command line it is at least 1
            least = 1 if name != "num_envs" or num_envs is not None else 0
            if merged[name] < least:
                raise AdvisorError("bad-option", f"--{name.replace('_', '-')} must be at least 1, got {merged[name]}")
        make_config(algo, overrides, source="config")  # an unknown algorithm or a bad field first, then the fit
        warnings, forced = guard_training(algo, env, env_kwargs, force)  # before anything is written
        for warning in warnings:
            console.print(f"[yellow]warning[/]: {warning}", highlight=False)
        if seeds is not None:
            return train_seeds(algo, env, env_kwargs, seeds, merged["steps"], merged["num_envs"],
                               merged["eval_episodes"], overrides, out, workers, forced, merged["eval_deterministic"])
        spec = RunSpec(**{**merged, "env": env, "env_kwargs": env_kwargs, "config": overrides, "forced": forced})
        run_dir = out or default_run_dir(spec)
        trainer = Trainer.create(spec, run_dir)
        console.print(f"training [bold]{algo}[/] on {env} -> {run_dir}")
    for note in trainer.notes:
        console.print(f"[yellow]note[/]: {note}")
    result = _train_with_progress(trainer)
    if "vs_random" in result:  # zero-sum: the return against itself is always 0
        r = result["vs_random"]
        console.print(f"done: {result['env_steps']:,} steps; against random play ({r['episodes']} games, both "
                      f"seats) win {r['win']:.0%}, draw {r['draw']:.0%}, loss {r['loss']:.0%}")
    else:
        console.print(f"done: {result['env_steps']:,} steps, evaluation return per agent "
                      f"{result['return_mean']:.2f} ± {result['return_std']:.2f} over {result['episodes']} episodes")
        print_references(result)
    console.print(f"run directory: {run_dir}  (marl eval {run_dir})")


def _train_with_progress(trainer: Trainer) -> dict[str, Any]:
    total = trainer.spec.steps
    latest = {"ret": math.nan}
    label, key = trainer.algo.progress_metric
    columns = [TextColumn("[bold blue]training"), BarColumn(), MofNCompleteColumn(), TextColumn("env steps"),
               TextColumn("{task.fields[sps]:>7,.0f} steps/s"), TextColumn(f"{label} {{task.fields[ret]:>8.2f}}"),
               TimeElapsedColumn(), TextColumn("left"), TimeRemainingColumn()]
    with ProgressView(*columns, console=console, transient=False) as progress:
        task = progress.add_task("train", total=total, completed=trainer.algo.env_steps, sps=0.0, ret=math.nan)

        def on_iteration(metrics: dict[str, float], sps: float) -> None:
            if not math.isnan(metrics.get(key, math.nan)):
                latest["ret"] = metrics[key]
            progress.update(task, completed=min(metrics["env_steps"], total), sps=sps, ret=latest["ret"])

        return trainer.train(on_iteration)
