"""`marl plot RUN_DIR...`: learning curves, seeds aggregated with a 95% confidence band."""
from __future__ import annotations

import io
from pathlib import Path

import typer

from advisor.cli_options import check_output_path
from advisor.console import console, handles_errors
from advisor.curves import aggregate, check_metric, load_run
from algorithms.core.checkpoint import atomic_write_bytes


@handles_errors
def plot(
    run_dirs: list[Path] = typer.Argument(..., help="Run directories written by `marl train`."),
    out: Path = typer.Option(Path("curves.png"), "--out", help="PNG file to write."),
    metric: str = typer.Option("charts/return_mean", "--metric", help="Any column of metrics.csv."),
    title: str = typer.Option("", "--title", help="Chart title (default: the metric)."),
) -> None:
    """Plot METRIC against env steps: one mean curve with a 95% band per algorithm and env.

    Runs of the same algorithm and env become one mean curve with a 95% confidence band across seeds; several
    algorithms share one chart with a legend."""
    import matplotlib

    matplotlib.use("Agg")  # files only: no display needed
    import matplotlib.pyplot as plt

    check_output_path(out, (".png",), "--out")
    runs = [load_run(path) for path in run_dirs]
    check_metric(runs, metric)
    curves = aggregate(runs, metric)
    fig, ax = plt.subplots(figsize=(8, 5))
    for curve in curves:
        (line,) = ax.plot(curve.steps, curve.mean, label=curve.label)
        if curve.runs > 1:
            ax.fill_between(curve.steps, curve.low, curve.high, color=line.get_color(), alpha=0.2)
    ax.set_xlabel("env steps")
    ax.set_ylabel(metric)
    ax.set_title(title or metric)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    png = io.BytesIO()
    fig.savefig(png, format="png", dpi=120)
    plt.close(fig)
    atomic_write_bytes(out, png.getvalue())  # whole or not at all
    console.print(f"wrote {out} ({len(curves)} curve{'s' if len(curves) != 1 else ''} from {len(runs)} run{'s' if len(runs) != 1 else ''})")
