"""Reports over run directories with honest statistics (Agarwal et al. 2021): per algorithm and env the mean, the
interquartile mean and its 95% bootstrap interval over seeds; sample-efficiency curves (IQM of the training return
against env steps, with bands); performance profiles across envs; the probability that one algorithm beats another.
The data behind `marl report` and the report `marl benchmark` writes."""
from __future__ import annotations

import io
import json
from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np

from advisor.curves import Run, aligned, load_run
from advisor.errors import AdvisorError
from algorithms.core.checkpoint import atomic_write_bytes
from algorithms.core.statistics import (iqm, iqm_curve, performance_profile, probability_of_improvement,
                                       stratified_bootstrap_ci, summarise)

CURVE_METRIC = "charts/return_mean"
THRESHOLDS = np.linspace(0.0, 1.0, 51)


def find_runs(paths: list[Path]) -> list[Run]:
    """Run directories among `paths`, or below them (a benchmark directory holds one per trial)."""
    found: list[Path] = []
    for path in paths:
        if not path.exists():
            raise AdvisorError("missing-path", f"{path} does not exist")
        found += [path] if (path / "config.yaml").is_file() else sorted(
            p.parent for p in path.rglob("config.yaml") if (p.parent / "metrics.csv").is_file())
    if not found:
        raise AdvisorError("no-runs", f"no run directories (config.yaml + metrics.csv) in {', '.join(map(str, paths))}")
    return [load_run(p) for p in dict.fromkeys(found)]


def _final(run: Run) -> float | None:
    return run.evaluation["return_mean"] if run.evaluation else None


def build(runs: list[Run]) -> dict[str, Any]:
    """The statistics, as plain data (report.json)."""
    cells: dict[tuple[str, str], list[Run]] = {}
    for run in runs:
        cells.setdefault((run.algorithm_label, run.env_label), []).append(run)
    table, scores = [], {}
    for (algo, env), members in cells.items():
        finals = [f for f in map(_final, members) if f is not None]
        if finals:
            table.append({"algorithm": algo, "env": env, **summarise(finals)})
            scores[algo, env] = finals
    envs = sorted({e for _, e in scores})
    algos = sorted({a for a, _ in scores})
    # Normalised per env: 0 = random play over the same evaluation episodes (else the worst run), 1 = the best run.
    normalised: dict[str, list[float]] = {a: [] for a in algos}
    by_env: dict[str, list[list[float]]] = {a: [] for a in algos}  # the same scores, one group per env
    for env in envs:
        runs_here = [r for r in runs if r.env_label == env and r.evaluation]
        randoms = [r.evaluation.get("references", {}).get("random", {}).get("mean") for r in runs_here]
        randoms = [x for x in randoms if x is not None]
        every = [v for (a, e), vs in scores.items() if e == env for v in vs]
        low, high = (float(np.mean(randoms)) if randoms else min(every)), max(every)
        for algo in algos:
            here = [(v - low) / (high - low) if high > low else 1.0 for v in scores.get((algo, env), [])]
            normalised[algo] += here
            if here:
                by_env[algo].append(here)
    aggregate = [{"algorithm": a, "envs": len(by_env[a]), "iqm": iqm(normalised[a]),
                  "ci95": list(stratified_bootstrap_ci(by_env[a]))} for a in algos if normalised[a]]
    profiles = {a: performance_profile(v, THRESHOLDS).tolist() for a, v in normalised.items() if v}
    pairs = []
    for x, y in combinations(algos, 2):
        shared = [e for e in envs if (x, e) in scores and (y, e) in scores]
        if shared:
            p = float(np.mean([probability_of_improvement(scores[x, e], scores[y, e]) for e in shared]))
            pairs.append({"x": x, "y": y, "p_x_beats_y": p, "envs": len(shared)})
    return {"summary": table, "aggregate": aggregate, "probability_of_improvement": pairs,
            "performance_profile": {"thresholds": THRESHOLDS.tolist(), "fraction_above": profiles},
            "runs": [str(r.path) for r in runs]}


def markdown(report: dict[str, Any]) -> str:
    lines = ["Final evaluation return per agent (eval.json) over seeds: mean, interquartile mean (IQM) and the 95%",
             "percentile-bootstrap interval of the IQM.", "",
             "| algorithm | env | n | mean | IQM | 95% CI |", "|---|---|---|---|---|---|"]
    for s in report["summary"]:
        lines.append(f"| {s['algorithm']} | {s['env']} | {s['n']} | {s['mean']:.3f} | {s['iqm']:.3f} | "
                     f"[{s['ci95'][0]:.3f}, {s['ci95'][1]:.3f}] |")
    if report.get("aggregate"):
        lines += ["", "Across envs: IQM of the normalised score (0 = random play over the same evaluation episodes, "
                  "1 = the best run on that env) with its 95% stratified bootstrap interval (runs resampled within "
                  "each env):", "", "| algorithm | envs | IQM (normalised) | 95% CI |", "|---|---|---|---|"]
        lines += [f"| {a['algorithm']} | {a['envs']} | {a['iqm']:.3f} | [{a['ci95'][0]:.3f}, {a['ci95'][1]:.3f}] |"
                  for a in report["aggregate"]]
    if report["probability_of_improvement"]:
        lines += ["", "Probability that a run of X beats a run of Y (averaged over the envs both ran):", "",
                  "| X | Y | P(X > Y) | envs |", "|---|---|---|---|"]
        lines += [f"| {p['x']} | {p['y']} | {p['p_x_beats_y']:.2f} | {p['envs']} |"
                  for p in report["probability_of_improvement"]]
    return "\n".join(lines) + "\n"


def png_bytes(fig) -> bytes:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png", dpi=110)
    plt.close(fig)
    return buffer.getvalue()


def plots(runs: list[Run], report: dict[str, Any]) -> dict[str, bytes]:
    """curves.png (IQM of the training return vs env steps per env, 95% bands) and profile.png."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    envs = sorted({r.env_label for r in runs})
    fig, axes = plt.subplots(1, len(envs), figsize=(6 * len(envs), 4.5), squeeze=False)
    for ax, env in zip(axes[0], envs):
        for algo in sorted({r.algorithm_label for r in runs if r.env_label == env}):
            members = [r for r in runs if r.env_label == env and r.algorithm_label == algo
                       and CURVE_METRIC in r.columns and not np.isnan(r.columns[CURVE_METRIC]).all()]
            if not members:
                continue
            grid, values = aligned(members, CURVE_METRIC)
            centre, low, high = iqm_curve(values)
            (line,) = ax.plot(grid, centre, label=f"{algo} ({len(members)})")
            ax.fill_between(grid, low, high, color=line.get_color(), alpha=0.2)
        ax.set_title(env, fontsize=9)
        ax.set_xlabel("env steps")
        ax.set_ylabel("training return (IQM over seeds)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    out = {"curves.png": png_bytes(fig)}
    profile = report["performance_profile"]
    if profile["fraction_above"]:
        fig, ax = plt.subplots(figsize=(6, 4.5))
        for algo, fractions in profile["fraction_above"].items():
            ax.plot(profile["thresholds"], fractions, label=algo)
        ax.set_xlabel("normalised score tau (0 = random play, 1 = best run, per env)")
        ax.set_ylabel("fraction of runs with score > tau")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        out["profile.png"] = png_bytes(fig)
    return out


def write(runs: list[Run], out_dir: Path) -> dict[str, Any]:
    """report.json, report.md, curves.png and profile.png in out_dir (each written atomically)."""
    report = build(runs)
    out_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(out_dir / "report.json", json.dumps(report, indent=2).encode())
    atomic_write_bytes(out_dir / "report.md", markdown(report).encode())
    for name, data in plots(runs, report).items():
        atomic_write_bytes(out_dir / name, data)
    return report
