"""`marl credit RUN`: who in the team earned the reward? Counterfactual credit with CIs, exact Shapley values for
up to 8 agents, and for value decomposition the mixer's own view (algorithms/training/credit.py)."""
from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.table import Table

from advisor.console import console, handles_errors
from advisor.report import png_bytes
from algorithms.core.checkpoint import atomic_write_bytes
from algorithms.training.credit import credit as compute_credit


@handles_errors
def credit(
    run_dir: Path = typer.Argument(..., metavar="RUN", help="A run directory made by `marl train`."),
    episodes: int = typer.Option(32, "--episodes", help="Deterministic evaluation episodes per coalition."),
    baseline: str = typer.Option("auto", "--baseline", help="What a replaced agent does: noop (action 0 / zeros, "
                                 "where the env family has one), random (uniform legal actions), or auto (noop "
                                 "where there is one, else random)."),
    shapley: bool = typer.Option(True, "--shapley/--no-shapley", help="Exact Shapley values (2^N coalitions; up to "
                                 "8 agents, skipped above)."),
    seed: int = typer.Option(20_000, "--seed", help="Reset seed of the episodes (and of the random baseline)."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Which agents earned the team's return: counterfactual credit, Shapley values, the mixer's view.

    Replace each agent's actions by a baseline over the same deterministic episodes and measure the team
    return lost (the sum of every agent's return), with a 95% bootstrap CI over episodes; with up to 8 agents,
    exact Shapley values over coalitions of replaced agents. For VDN, QMIX and QPLEX also the mixer's view:
    dQ_tot/dQ_i and each agent's share of Q_tot over the visited states, and its rank agreement with the
    counterfactual credit. Writes RUN/credit.json and RUN/credit.png."""
    out = compute_credit(run_dir, episodes, baseline, seed, shapley=None if shapley else False)
    atomic_write_bytes(run_dir / "credit.json", json.dumps(out, indent=2).encode())
    atomic_write_bytes(run_dir / "credit.png", _bar_chart(out))
    if as_json:
        print(json.dumps(out, indent=2))
        return
    table = Table(title=f"credit: {out['algorithm']} on {out['env']}, team return {out['team_return']:.3f} over "
                        f"{out['episodes']} episodes; baseline {out['baseline']}")
    columns = ["agent", "counterfactual (team return lost)", "95% CI", "Shapley"]
    mixer = out.get("mixer")
    if mixer:
        columns += ["dQtot/dQi", "share of Q_tot"]
    for column in columns:
        table.add_column(column)
    for agent, row in out["per_agent"].items():
        cells = [agent, f"{row['counterfactual']:.3f}", f"[{row['ci95'][0]:.3f}, {row['ci95'][1]:.3f}]",
                 "-" if row["shapley"] is None else f"{row['shapley']:.3f}"]
        if mixer:
            m = mixer["per_agent"][agent]
            cells += [f"{m['dqtot_dqi_mean']:.3f} ± {m['dqtot_dqi_std']:.3f}", f"{m['share_mean']:.2f} ± {m['share_std']:.2f}"]
        table.add_row(*cells)
    console.print(table)
    if mixer:
        agreement = mixer["agreement"]
        console.print("the mixer's shares against the counterfactual credit: " +
                      ("undefined (fewer than 3 agents, or a constant side)" if agreement is None else
                       f"Spearman rank correlation {agreement:.2f}") + f" over {mixer['states']} visited states")
    console.print(f"wrote {run_dir / 'credit.json'} and {run_dir / 'credit.png'}")


def _bar_chart(out: dict) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    agents = list(out["per_agent"])
    rows = [out["per_agent"][a] for a in agents]
    x = range(len(agents))
    fig, ax = plt.subplots(figsize=(max(4.0, 1.2 * len(agents)), 3.6))
    mean = [r["counterfactual"] for r in rows]
    err = [[m - r["ci95"][0] for m, r in zip(mean, rows)], [r["ci95"][1] - m for m, r in zip(mean, rows)]]
    shapley = any(r["shapley"] is not None for r in rows)
    width = 0.4 if shapley else 0.6
    ax.bar([i - (width / 2 if shapley else 0) for i in x], mean, width, yerr=err, capsize=3, label="counterfactual")
    if shapley:
        ax.bar([i + width / 2 for i in x], [r["shapley"] for r in rows], width, label="Shapley")
    ax.set_xticks(list(x), agents, rotation=30 if len(agents) > 6 else 0)
    ax.set_ylabel("team return")
    ax.set_title(f"credit: {out['algorithm']} on {out['env']} (baseline {out['baseline']})", fontsize=9)
    ax.axhline(0, color="black", linewidth=0.6)
    ax.legend(fontsize=8)
    return png_bytes(fig)
