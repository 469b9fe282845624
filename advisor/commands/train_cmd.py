"""`marl train ALGO --env ENV`: train an algorithm into a run directory, or `--resume RUN_DIR`."""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Optional

import typer
import yaml
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from advisor.console import console, handles_errors, print_references
from advisor.errors import AdvisorError
from advisor.cli_options import parse_set_options
from advisor.cli_options import parse_env_kwargs
from advisor.commands.benchmark_cmd import train_seeds
from algorithms.training.run import RunSpec, Trainer, default_run_dir


def _config_file(path: Optional[Path]) -> dict[str, Any]:
    if path is None:
        return {}
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
    return data


@handles_errors
def train(
    algo: Optional[str] = typer.Argument(None, help="Algorithm id (see `marl algorithms`)."),
    env: Optional[str] = typer.Option(None, "--env", help="PettingZoo env, e.g. mpe2:simple_spread_v3."),
    env_kwarg: Optional[list[str]] = typer.Option(None, "--env-kwarg", help="Env keyword argument KEY=VALUE (repeatable)."),
    steps: Optional[int] = typer.Option(None, "--steps", help="Total environment steps (summed over copies). [default: 100000]"),
    seed: int = typer.Option(0, "--seed", help="Seed for networks, sampling and env resets."),
    num_envs: Optional[int] = typer.Option(None, "--num-envs", help="Environment copies stepped together. "
                                           "[default: the algorithm's measured choice for the backend, shown by "
                                           "`marl algorithms`]"),
    config: Optional[Path] = typer.Option(None, "--config", help="YAML file of config fields to override."),
    set_: Optional[list[str]] = typer.Option(None, "--set", help="Override one config field KEY=VALUE (repeatable)."),
    device: str = typer.Option("auto", "--device", help="auto, cpu or cuda."),
    out: Optional[Path] = typer.Option(None, "--out", help="Run directory (default runs/ALGO-ENV-TIMESTAMP); must be new or empty."),
    resume: Optional[Path] = typer.Option(None, "--resume", help="Continue the run in this directory from its last checkpoint."),
    checkpoint_every: int = typer.Option(50_000, "--checkpoint-every", help="Checkpoint every this many env steps "
                                         "(and after every 60 s of training, so a run killed early can resume)."),
    eval_episodes: int = typer.Option(32, "--eval-episodes", help="Episodes for the evaluation written to eval.json."),
    threads: int = typer.Option(1, "--threads", help="Torch CPU threads (small networks are fastest on 1; results depend on it)."),
    seeds: Optional[str] = typer.Option(None, "--seeds", help="Several seeds ('0-4' or '0,2,5') as one benchmark "
                                        "(`marl benchmark`): a run directory per seed under --out (default "
                                        "runs/ALGO-ENV-seeds-FIRST-LAST), statistics over seeds; re-run to resume."),
    workers: int = typer.Option(1, "--workers", help="With --seeds: seeds trained side by side in local processes."),
) -> None:
    """Train ALGO on ENV, logging to a run directory (metrics.csv, TensorBoard, checkpoints, eval.json)."""
    if seeds is not None:
        if resume is not None or algo is None or env is None:
            raise AdvisorError("bad-option", "--seeds needs ALGO and --env (not --resume): re-running the same "
                               "command resumes its seeds")
        overrides = {**_config_file(config), **parse_set_options(set_)}
        return train_seeds(algo, env, parse_env_kwargs(env_kwarg), seeds, 100_000 if steps is None else steps,
                           0 if num_envs is None else num_envs, eval_episodes, overrides, out, workers)
    if resume is not None:
        if algo or env:
            raise AdvisorError("bad-resume", "--resume takes the algorithm and env from the run directory",
                               "drop ALGO and --env, or start a new run without --resume")
        trainer = Trainer.resume(resume, steps)
        run_dir = resume
        console.print(f"resuming [bold]{trainer.spec.algo}[/] on {trainer.spec.env} at step "
                      f"{trainer.algo.env_steps:,} ({'env state restored' if trainer.env_restored else 'envs reseeded: they could not be saved'})")
    else:
        if algo is None or env is None:
            raise AdvisorError("missing-argument", "give an algorithm and --env (or --resume RUN_DIR)",
                               "e.g. marl train mappo --env mpe2:simple_spread_v3")
        overrides = {**_config_file(config), **parse_set_options(set_)}
        spec = RunSpec(algo=algo, env=env, env_kwargs=parse_env_kwargs(env_kwarg),
                       steps=100_000 if steps is None else steps,
                       seed=seed, num_envs=0 if num_envs is None else num_envs, device=device, checkpoint_every=checkpoint_every,
                       eval_episodes=eval_episodes, threads=threads, config=overrides)
        for name, value in (("--steps", spec.steps), ("--num-envs", 1 if num_envs is None else num_envs),
                            ("--checkpoint-every", checkpoint_every),
                            ("--eval-episodes", eval_episodes)):
            if value < 1:
                raise AdvisorError("bad-option", f"{name} must be at least 1, got {value}")
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
               TimeElapsedColumn()]
    with Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task("train", total=total, completed=trainer.algo.env_steps, sps=0.0, ret=math.nan)

        def on_iteration(metrics: dict[str, float], sps: float) -> None:
            if not math.isnan(metrics.get(key, math.nan)):
                latest["ret"] = metrics[key]
            progress.update(task, completed=min(metrics["env_steps"], total), sps=sps, ret=latest["ret"])

        return trainer.train(on_iteration)
