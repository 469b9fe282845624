"""`marl eval RUN_DIR | POLICY.pt`: per-agent returns of a trained policy, optionally rendered to a GIF.

Competitive runs (self_play, or any algorithm on a zero-sum matrix game) also get win/draw/loss against
random play and against each pool member, from both seats, and the exact exploitability of matrix games.
`--exact` walks the whole game tree of a small turn-based game (tic-tac-toe) for the greedy policy's exact
win / draw / loss against random play in each seat."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from advisor.cli_options import check_output_path
from advisor.console import console, handles_errors, print_references
from advisor.errors import AdvisorError
from algorithms.registry import get_entry, load
from algorithms.training.competitive_eval import competitive_report, exact_vs_random, is_competitive_run
from algorithms.training.evaluate import evaluate as run_evaluation
from algorithms.training.evaluate import render_gif
from algorithms.training.run import RunSpec, load_for_eval, resolve_device


@handles_errors
def evaluate(
    run_dir: Path = typer.Argument(..., help="A run directory written by `marl train`, or a policy file written "
                                             "by `algo.save()` (the Python API)."),
    episodes: int = typer.Option(32, "--episodes", help="Episodes to play."),
    deterministic: Optional[bool] = typer.Option(None, "--deterministic/--stochastic", show_default=False,
                                                 help="Greedy/mean actions, or sampled ones. \\[default: as the run's "
                                                      "own evaluation (marl train --eval-stochastic); greedy for a "
                                                      "policy file]"),
    seed: int = typer.Option(12345, "--seed", help="Seed for the evaluation env resets."),
    json_out: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    render: Optional[Path] = typer.Option(None, "--render", help="Write one episode as an animated GIF here."),
    messages: Optional[Path] = typer.Option(None, "--messages",
                                            help="CommNet runs: write every step's messages to this .npz and "
                                                 "report how much they vary with the hidden information."),
    exact: bool = typer.Option(False, "--exact",
                               help="Small turn-based games (tic-tac-toe): the greedy policy's exact win/draw/loss "
                                    "against random play in each seat, from the whole game tree (no sampling error)."),
    pool_members: Optional[int] = typer.Option(None, "--pool-members", min=0,
                                               help="Self-play runs: play only the N most recent pool members "
                                                    "(default: every member, up to pool_size)."),
    device: str = typer.Option("cpu", "--device", help="auto, cpu or cuda."),
) -> None:
    """Evaluate the latest checkpoint of RUN_DIR (or a policy file): mean and std of each agent's episode return."""
    if exact and deterministic is False:
        raise AdvisorError("bad-option", "--exact evaluates the greedy policy; drop --stochastic")
    if render is not None:
        check_output_path(render, (".gif",), "--render")
    if messages is not None:
        check_output_path(messages, (".npz",), "--messages")
    if not run_dir.exists():
        raise AdvisorError("missing-run-dir", f"no run directory or policy file at {run_dir}")
    if run_dir.is_file():  # a policy file from the Python API: the same evaluation, without a run directory
        algo = load(run_dir, resolve_device(device))
        spec = RunSpec(algo.algo_id, algo.info.env_id, dict(getattr(algo.envs, "env_kwargs", {}) or {}))
    else:
        spec, algo = load_for_eval(run_dir, device)
    if deterministic is None:
        deterministic = spec.eval_deterministic or exact
    if exact:  # first: a game too big to walk is refused before the slower sampled evaluation
        exact_rates = exact_vs_random(algo, spec.env, spec.env_kwargs)
    competitive = is_competitive_run(get_entry(spec.algo).config_cls, spec.env, spec.env_kwargs)
    result = run_evaluation(algo, spec.env, spec.env_kwargs, episodes, deterministic, seed,
                            references=not competitive)
    result.update({"run_dir": str(run_dir), "algo": spec.algo, "env": spec.env, "env_steps": algo.env_steps})
    if messages is not None:
        from algorithms.training.commnet_messages import dump_messages
        result["messages"] = dump_messages(algo, spec.env, spec.env_kwargs, episodes, seed, messages)
    if competitive:
        result["competitive"] = competitive_report(algo, spec.env, spec.env_kwargs, episodes, deterministic, seed,
                                                   pool_members)
    if exact:
        result["exact_vs_random"] = exact_rates
    if render is not None:
        result["render"] = {"path": str(render),
                            "frames": render_gif(algo, spec.env, spec.env_kwargs, render, deterministic, seed)}
    if json_out:
        typer.echo(json.dumps(result, indent=2))
        return
    table = Table(title=f"{spec.algo} on {spec.env} after {algo.env_steps:,} steps "
                        f"({episodes} episode{'s' if episodes != 1 else ''}, {'deterministic' if deterministic else 'stochastic'})")
    for column in ("agent", "mean return", "std"):
        table.add_column(column, justify="right" if column != "agent" else "left")
    for agent, stats in result["per_agent"].items():
        table.add_row(agent, f"{stats['mean']:.2f}", f"{stats['std']:.2f}")
    for team, stats in result.get("per_team", {}).items():
        table.add_row(f"team {team}", f"{stats['mean']:.2f}", f"{stats['std']:.2f}")
    table.add_row("[bold]all agents", f"[bold]{result['return_mean']:.2f}", f"{result['return_std']:.2f}")
    console.print(table)
    print_references(result)
    if "competitive" in result:
        console.print(_competitive_table(result["competitive"]))
    if exact:
        console.print("exact against random play (whole game tree): " + "; ".join(
            f"{agent} win {r['win']:.3f} draw {r['draw']:.3f} loss {r['loss']:.3f}" for agent, r in exact_rates.items()))
    if render is not None:
        console.print(f"wrote {result['render']['frames']} frames to {render}")
    if messages is not None:
        console.print(f"wrote messages to {messages}; influence of each agent's messages on the others' actions: "
                      f"{result['messages'].get('influence')}")


def _competitive_table(report: dict) -> Table:
    """Win/draw/loss rows (overall and per seat) against random play and each pool member."""
    table = Table(title="competitive: win / draw / loss of the trained policy, playing both seats")
    for column in ("opponent", "games", "win", "draw", "loss", "win per seat"):
        table.add_column(column, justify="left" if column in ("opponent", "win per seat") else "right")
    opponents = [("random", report["vs_random"])]
    opponents += [(f"pool #{mid} (Elo {r['rating']:.0f})", r) for mid, r in report["vs_pool"].items()]
    for name, r in opponents:
        seats = ", ".join(f"{agent} {s['win']:.0%}" for agent, s in r["by_seat"].items())
        table.add_row(name, str(r["episodes"]), f"{r['win']:.0%}", f"{r['draw']:.0%}", f"{r['loss']:.0%}", seats)
    notes = []
    if "rating" in report:
        notes.append(f"learner Elo {report['rating']:.0f}")
    for which, value in report.get("exploitability", {}).items():
        if which != "policy_is_sampled_estimate":
            notes.append(f"exploitability ({which.replace('_', ' ')}) {value:.4f}")
    if notes:
        table.caption = "; ".join(notes)
    return table
