"""`marl tune SPEC.yaml`: hyperparameter search on Ray Tune with ASHA early stopping, then the best configuration
re-run on fresh seeds beside the defaults, written as a config file `marl train --config` accepts."""
from __future__ import annotations

import inspect
import json
from pathlib import Path
from typing import Any, Optional

import typer
from rich.progress import BarColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from advisor.console import console, handles_errors, interrupted_code
from advisor.progress_view import ProgressView
from algorithms.training.tune import run_tune
from algorithms.training.tune_spec import load_tune_spec, validate_tune_spec

SPEC_HELP = """SPEC is YAML: algorithm, env (a string or {env, env_kwargs}), steps (a configuration's full budget),
samples (configurations drawn, 8), search (config field: {loguniform | uniform | randint | choice: ...}); optional
set (fixed fields), report_every (steps/10: env steps between evaluations, ASHA's clock), grace_steps
(report_every: none is stopped before), reduction_factor (3), eval_episodes (16), seed (0), final_seeds
([100..104]), baseline (true: the defaults re-run beside the best), num_envs (0) and cpus_per_trial (1)."""


@handles_errors
def tune(
    spec_path: Path = typer.Argument(..., metavar="SPEC", help="Tuning spec (YAML)."),
    out: Optional[Path] = typer.Option(None, "--out", help="Tuning directory (default runs/tune-SPECNAME). "
                                       "Re-running into it resumes the search and the final re-runs."),
    ray_address: Optional[str] = typer.Option(None, "--ray-address", help="Run on an existing Ray cluster (`ray start "
                                              "--head` on one machine, `ray start --address HEAD:6379` on the others); "
                                              "--out must then be on storage every node mounts. Default: a Ray "
                                              "started for this run on the local CPUs."),
    as_json: bool = typer.Option(False, "--json", help="Print the search, the best configuration and the final "
                                 "statistics as JSON."),
) -> None:
    """Search hyperparameters on Ray Tune with ASHA, then re-run the best on fresh seeds beside the defaults.

    Draw configurations from the spec's search space, train them side by side on Ray Tune, stop the ones that
    fall behind (ASHA, on the deterministic evaluation return), then re-run the best on fresh seeds beside the
    algorithm's defaults and report IQM with 95% CIs. Needs pip install "marl-advisor\\[ray]"."""
    spec = load_tune_spec(spec_path)
    validate_tune_spec(spec)  # every searched field and range checked, the algorithm built on the env
    root = out or Path("runs") / f"tune-{spec_path.stem}"
    say = console.print if not as_json else (lambda *a, **k: None)
    say(f"tune: {spec.samples} configurations of {spec.algorithm} on {spec.env.env}, up to {spec.steps:,} env steps "
        f"each (evaluated every {spec.report_every:,}; ASHA keeps 1/{spec.reduction_factor} per rung), then the best "
        f"on seeds {', '.join(map(str, spec.final_seeds))} -> {root}")
    try:
        out_data = _run_with_progress(spec, spec_path, root, ray_address or "local", quiet=as_json)
    except KeyboardInterrupt as interrupt:
        console.print(f"[bold red]interrupted[/]: the same command resumes (`marl tune {spec_path} --out {root}`)",
                      highlight=False)
        raise typer.Exit(code=interrupted_code(interrupt)) from None
    if as_json:
        print(json.dumps(out_data, indent=2))
        return
    _print(out_data, spec)


def _run_with_progress(spec, spec_path: Path, root: Path, address: str, quiet: bool) -> dict[str, Any]:
    budgets = spec.budgets()
    state = {"evaluations": 0, "best": None}
    columns = [TextColumn("[bold blue]{task.description}"), BarColumn(), TextColumn("{task.fields[status]}"),
               TimeElapsedColumn()]
    with ProgressView(*columns, console=console, transient=False, disable=quiet) as bar:
        # the bar's end assumes every configuration runs to the full budget: ASHA's stops make it finish early
        search = bar.add_task("search", total=spec.samples * len(budgets), status="")
        final = None

        def on_event(event: dict[str, Any]) -> None:
            nonlocal final
            if event["event"] == "report":
                state["evaluations"] += 1
                if event["env_steps"] is not None and event["env_steps"] >= spec.steps:
                    state["best"] = max(event["return"], state["best"] if state["best"] is not None else -1e300)
                best = "" if state["best"] is None else f", best at the full budget {state['best']:.3f}"
                bar.update(search, completed=state["evaluations"],
                           status=f"{state['evaluations']} evaluations{best}")
                return
            if final is None:
                bar.update(search, completed=spec.samples * len(budgets))
                final = bar.add_task("final seeds", total=len(spec.final_seeds) * (2 if spec.baseline else 1),
                                     status="")
            if event["event"] == "end":
                bar.advance(final)

        return run_tune(spec, spec_path.read_text(encoding="utf-8"), root, address, on_event)


def _print(out: dict[str, Any], spec) -> None:
    table = Table(title="search: deterministic evaluation return per agent at each budget")
    table.add_column("trial")
    for dim in spec.search:
        table.add_column(dim.name)
    for budget in spec.budgets():
        table.add_column(f"{budget:,}")
    table.add_column("status", no_wrap=True)
    for row in sorted(out["trials"], key=lambda r: -(r["return"] if r["return"] is not None else -1e300)):
        # one evaluation per budget, in order (an iteration can overshoot a budget by a few steps)
        cells = [f"{r['return']:.3f}" for r in row["reports"]] + [""] * (len(spec.budgets()) - len(row["reports"]))
        status = row["status"] if row["status"] != "stopped" else f"stopped {row['stopped_at']:,}"
        mark = " [green](best)[/]" if out["best"] and row["trial"] == out["best"]["trial"] else ""
        table.add_row(str(row["trial"]), *[_fmt(row["config"][d.name]) for d in spec.search], *cells, status + mark)
    console.print(table)
    final = Table(title=f"final: {spec.steps:,} env steps on fresh seeds {', '.join(map(str, spec.final_seeds))}")
    for column in ("configuration", "n", "mean", "IQM", "95% CI (IQM)"):
        final.add_column(column)
    for s in out["final"]["summary"]:
        final.add_row(s["algorithm"], str(s["n"]), f"{s['mean']:.3f}", f"{s['iqm']:.3f}",
                      f"[{s['ci95'][0]:.3f}, {s['ci95'][1]:.3f}]")
    console.print(final)
    if "probability_of_improvement" in out["final"]:
        console.print(f"P(best beats the defaults on a fresh seed) = {out['final']['probability_of_improvement']:.2f}")
    console.print(f"best configuration: {out['best_config_file']}  (marl train --config {out['best_config_file']})")


def _fmt(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


tune.__doc__ = inspect.cleandoc(tune.__doc__) + "\n\n" + SPEC_HELP  # shown by --help
