"""`marl benchmark SPEC.yaml`: a grid of algorithms x envs x seeds, one run directory per trial, statistics over
seeds (mean, interquartile mean, 95% bootstrap CI)."""
from __future__ import annotations

import inspect
import json
import re
import time
from pathlib import Path
from typing import Any, Callable, Optional

import typer
import yaml
from rich.progress import BarColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.markup import escape
from rich.table import Table

from advisor.console import console, handles_errors, interrupted_code
from advisor.errors import AdvisorError
from advisor.progress_view import ProgressView
from advisor.report import find_runs
from advisor.report import write as write_report
from algorithms.training.benchmark import (claim_bench_dir, done_count, rows_with, run_benchmark, selected_trials,
                                           unfinished_rows)
from algorithms.training.benchmark_spec import conflict, load_spec, parse_spec, selection, trials, validate

SPEC_HELP = """SPEC is YAML: algorithms (ids, or {algorithm, set: {field: value}, name}), envs (env strings, or
{env, env_kwargs: {...}, name}), seeds (a list or "0-4"), steps; optional num_envs (0: each algorithm's default),
eval_episodes (32), eval_deterministic (true; false: sampled actions, as EPyMARL evaluates MAPPO and IPPO) and
cpus_per_trial (1: the CPUs Ray reserves for a trial)."""


@handles_errors
def benchmark(
    spec_path: Path = typer.Argument(..., metavar="SPEC", help="Benchmark spec (YAML)."),
    out: Optional[Path] = typer.Option(None, "--out", help="Benchmark directory (default runs/benchmark-SPECNAME). "
                                       "Re-running into it skips finished trials and resumes interrupted ones; a spec with "
                                       "more seeds, algorithms or envs grows it."),
    workers: int = typer.Option(1, "--workers", help="Trials run side by side in local processes (one torch thread "
                                "each). 1: one after another in this process."),
    ray: bool = typer.Option(False, "--ray", help="Run each trial as a Ray task on a Ray started for this run "
                             "(all local CPUs; needs pip install \"marl-advisor\\[ray]\")."),  # \\[: not rich markup
    ray_address: Optional[str] = typer.Option(None, "--ray-address", help="Run on an existing Ray cluster (`ray start "
                                              "--head` on one machine, `ray start --address HEAD:6379` on the others); "
                                              "--out must then be on storage every node mounts."),
    only: Optional[str] = typer.Option(None, "--only", metavar="NAME,...", help="Run only the trials of these "
                                       "algorithm and/or env entries (their names in the spec, as in the run "
                                       "directories); the results still cover every finished trial of the grid."),
    as_json: bool = typer.Option(False, "--json", help="Print the trials and the summary as JSON."),
) -> None:
    """Train every algorithm on every env for every seed, then report statistics over seeds.

    Per (algorithm, env): the mean, the interquartile mean and its 95% bootstrap confidence interval over
    seeds."""
    if workers < 1:
        raise AdvisorError("bad-option", f"--workers must be at least 1, got {workers}")
    if (ray or ray_address) and workers != 1:
        raise AdvisorError("bad-option", "--workers is for local processes; with --ray the cluster's CPUs decide",
                           "drop --workers, or set cpus_per_trial in the spec")
    address = ray_address or ("local" if ray else None)
    spec = load_spec(spec_path)
    validate(spec)  # every algorithm x env built once: nothing runs on a bad spec
    root = out or Path("runs") / f"benchmark-{spec_path.stem}"
    claim_bench_dir(root, spec_path.read_text(encoding="utf-8"), conflict)
    selected = selection(spec, [n.strip() for n in only.split(",") if n.strip()]) if only is not None else None
    grid = selected_trials(spec, selected)
    done = done_count(grid, root, spec.steps)
    say = console.print if not as_json else (lambda *a, **k: None)
    say(f"benchmark: {len(spec.algorithms)} algorithm(s) x {len(spec.envs)} env(s) x {len(spec.seeds)} seed(s) = "
        f"{len(trials(spec))} trials of {spec.steps:,} env steps -> {root}"
        + (f"; --only {only}: {len(grid)} of them" if selected is not None else "")
        + (f" ({done} already done)" if done else ""))
    resume = f"`marl benchmark {spec_path} --out {root}" + (f" --only {only}" if only is not None else "") + "`"
    out_data = _run_or_exit("trials", resume, spec, root, workers, len(grid), done, quiet=as_json,
                            ray_address=address, selected=selected)
    _write_report(out_data, root)
    if as_json:
        print(json.dumps(out_data, indent=2))
        return
    _print_summary(out_data)
    console.print(f"results: {root / 'results.json'}, {root / 'summary.md'}; plots and more statistics: {root / 'report'}")


def _write_report(out_data: dict[str, Any], root: Path) -> None:
    """report/ in the benchmark directory (marl report's output) over the trials that finished."""
    finished = [Path(t["run_dir"]) for t in rows_with(out_data, "done")]
    if finished:
        write_report(find_runs(finished), root / "report")


def train_seeds(algo: str, env: str, env_kwargs: dict, seeds: str, steps: int, num_envs: int, eval_episodes: int,
                overrides: dict[str, Any], out: Optional[Path], workers: int, forced: list[str],
                eval_deterministic: bool = True) -> None:
    """`marl train ALGO --env ENV --seeds 0-4`: a one-algorithm, one-env benchmark over the seeds."""
    if workers < 1:
        raise AdvisorError("bad-option", f"--workers must be at least 1, got {workers}")
    text = seeds.strip()
    if re.fullmatch(r"\d+(\s*,\s*\d+)*", text):
        seed_list: Any = [int(s) for s in text.split(",")]
    else:
        seed_list = text  # a range like 0-4, or something the spec parser explains
    data = {"algorithms": [{"algorithm": algo, "set": overrides}], "envs": [{"env": env, "env_kwargs": env_kwargs}],
            "seeds": seed_list, "steps": steps, "num_envs": num_envs, "eval_episodes": eval_episodes}
    if not eval_deterministic:  # only when set: directories made before the key existed still match
        data["eval_deterministic"] = False
    spec = parse_spec(data)
    spec.forced = forced
    validate(spec)
    root = out or Path("runs") / f"{algo}-{spec.envs[0].name}-seeds-{spec.seeds[0]}-{spec.seeds[-1]}"
    claim_bench_dir(root, yaml.safe_dump(data, sort_keys=False), conflict)
    console.print(f"training [bold]{algo}[/] on {env}, seeds {', '.join(map(str, spec.seeds))} -> {root}")
    out_data = _run_or_exit("seeds", f"the run directories are under {root}", spec, root, workers, len(spec.seeds),
                            done_count(trials(spec), root, spec.steps), quiet=False)
    _write_report(out_data, root)
    _print_summary(out_data)
    console.print(f"run directories: {root}/{algo}/{spec.envs[0].name}/seed-N; curves and statistics: {root / 'report'}")


def _run_or_exit(kept: str, resume: str, *args, **kwargs) -> dict[str, Any]:
    """_run_with_progress; on Ctrl-C or SIGTERM say what is kept and how to go on, and exit 130 or 143."""
    try:
        return _run_with_progress(*args, **kwargs)
    except KeyboardInterrupt as interrupt:
        console.print(f"[bold red]interrupted[/]: finished {kept} are kept; the same command resumes the others from "
                      f"their checkpoints ({resume})", highlight=False)
        raise typer.Exit(code=interrupted_code(interrupt)) from None


def _run_with_progress(spec, root: Path, workers: int, total: int, done: int, quiet: bool,
                       ray_address: Optional[str] = None, selected: Optional[Callable] = None) -> dict[str, Any]:
    counts = {"done": done, "failed": 0, "running": 0, "busy": 0}
    columns = [TextColumn("[bold blue]benchmark"), BarColumn(), TextColumn("{task.fields[status]}"),
               TimeElapsedColumn(), TextColumn("left"), TimeRemainingColumn()]
    steps_total = (total - done) * spec.steps
    progress = {"steps": {}, "start": time.monotonic()}
    with ProgressView(*columns, console=console, transient=False, disable=quiet) as bar:
        task = bar.add_task("trials", total=max(steps_total, 1), status="")

        def refresh() -> None:
            bar.update(task, completed=sum(progress["steps"].values()),
                       status=f"{counts['done']}/{total} done, {counts['running']} running, {counts['failed']} failed"
                       + (f", {counts['busy']} trained elsewhere" if counts["busy"] else ""))

        def on_event(event: dict[str, Any]) -> None:
            trial = event["trial"]
            if event["event"] == "start":
                counts["running"] += 1
            elif event["event"] == "iteration":
                progress["steps"][trial.key] = min(event["env_steps"], spec.steps)
            else:
                counts["running"] -= 1
                counts[event["status"] if event["status"] in ("done", "busy") else "failed"] += 1
                progress["steps"][trial.key] = spec.steps
                name = f"{trial.algorithm.name} / {trial.env.name} / seed {trial.seed}"
                if event["status"] == "busy":
                    bar.note(f"skipped: {escape(name)}: {escape(event['error'])}")
                elif event["status"] == "failed":
                    bar.note(f"[red]failed[/]: {escape(name)}: {escape(event['error'])}")  # errors may hold '['
                else:
                    score = event.get("return")
                    bar.note(f"done: {name}" + ("" if score is None else f": return per agent {score:.3f}"))
            refresh()

        refresh()
        return run_benchmark(spec, root, workers, on_event, ray_address, selected)


def _print_summary(out: dict[str, Any]) -> None:
    table = Table(title="return per agent over seeds")
    for column in ("algorithm", "env", "n", "mean", "IQM", "95% CI (IQM)"):
        table.add_column(column)
    for s in out["summary"]:
        table.add_row(s["algorithm"], s["env"], str(s["n"]), f"{s['mean']:.3f}", f"{s['iqm']:.3f}",
                      f"[{s['ci95'][0]:.3f}, {s['ci95'][1]:.3f}]")
    console.print(table)
    unfinished = len(unfinished_rows(out))
    if unfinished:
        console.print(f"{unfinished} of {len(out['trials'])} trials not finished yet; the same command without --only "
                      "runs them")
    failed = rows_with(out, "failed")
    if failed:
        console.print(f"[red]{len(failed)} trial(s) failed[/]; re-run the same command to retry them")


benchmark.__doc__ = inspect.cleandoc(benchmark.__doc__) + "\n\n" + SPEC_HELP  # shown by --help
