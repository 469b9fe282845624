"""Run a benchmark's trials into one directory: in this process, or on local worker processes. Re-running skips
finished trials and resumes interrupted ones from their checkpoints; a failing trial is recorded and the others
go on.

    BENCH_DIR/
        spec.yaml                          the spec as run (a re-run must match it)
        ALGO_NAME/ENV_NAME/seed-S/         one `marl train` run directory per trial (config.yaml, eval.json, ...)
        ALGO_NAME/ENV_NAME/seed-S/error.json   a failed trial's message (removed when it is retried)
        results.json, summary.md           written after every run of the benchmark
"""
from __future__ import annotations

import json
import multiprocessing
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from pathlib import Path
from typing import Any, Callable

import yaml

from algorithms.core.checkpoint import atomic_write_bytes
from algorithms.core.statistics import summarise
from algorithms.errors import MARLError
from algorithms.training.benchmark_spec import BenchmarkSpec, Trial, trials
from algorithms.training.run import Trainer

ERROR_FILE = "error.json"
Progress = Callable[[dict[str, Any]], None]


def trial_status(trial: Trial, root: Path) -> str:
    """done (eval.json written), failed (error.json), started (a run directory without either), or pending."""
    run_dir = trial.run_dir(root)
    if (run_dir / "eval.json").exists():
        return "done"
    if (run_dir / ERROR_FILE).exists():
        return "failed"
    return "started" if (run_dir / "config.yaml").exists() else "pending"


def run_trial(trial: Trial, spec: BenchmarkSpec, root: Path, on_iteration: Callable | None = None) -> dict[str, Any]:
    """Train one trial to the end (resuming it if it was started); a failure is written to error.json and
    returned, never raised, so the other trials go on. KeyboardInterrupt propagates (the trial stays resumable)."""
    run_dir = trial.run_dir(root)
    (run_dir / ERROR_FILE).unlink(missing_ok=True)
    try:
        if (run_dir / "config.yaml").exists():
            trainer = Trainer.resume(run_dir)
        else:
            run_dir.parent.mkdir(parents=True, exist_ok=True)
            trainer = Trainer.create(trial.run_spec(spec), run_dir)
        trainer.train(on_iteration)
        return {"status": "done"}
    except KeyboardInterrupt:
        raise
    except Exception as err:  # one trial's failure (an env that raises, a bad setting) is recorded, not fatal
        code = err.code if isinstance(err, MARLError) else "failed"
        message = str(err) if isinstance(err, MARLError) else f"{type(err).__name__}: {err}"
        run_dir.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(run_dir / ERROR_FILE, json.dumps({"code": code, "message": message}).encode())
        return {"status": "failed", "error": message}


def _worker(trial: Trial, spec: BenchmarkSpec, root: Path) -> dict[str, Any]:
    import torch  # each worker process: one torch thread (trials run side by side)

    torch.set_num_threads(1)
    return run_trial(trial, spec, root)


def claim_bench_dir(root: Path, spec: BenchmarkSpec, raw_spec: str) -> None:
    """Create the benchmark directory, or check that an existing one was made by the same spec."""
    saved = root / "spec.yaml"
    if saved.exists():
        if yaml.safe_load(saved.read_text(encoding="utf-8")) != yaml.safe_load(raw_spec):
            raise MARLError("bench-dir-mismatch", f"{root} holds a benchmark run from a different spec",
                            "choose another --out, or restore the spec that made it")
        return
    if root.exists() and (not root.is_dir() or any(root.iterdir())):
        raise MARLError("bench-dir-exists", f"{root} already exists and is not a benchmark directory",
                        "choose another --out")
    root.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(saved, raw_spec.encode())


def run_benchmark(spec: BenchmarkSpec, root: Path, workers: int = 1, progress: Progress | None = None) -> dict:
    """Every unfinished trial, then the results. `progress(event)` hears trial starts and ends (and, run in
    this process, every training iteration)."""
    report = progress or (lambda event: None)
    todo = [t for t in trials(spec) if trial_status(t, root) != "done"]
    if workers <= 1:
        for trial in todo:
            report({"event": "start", "trial": trial})
            outcome = run_trial(trial, spec, root, lambda metrics, sps, t=trial: report(
                {"event": "iteration", "trial": t, "env_steps": metrics["env_steps"]}))
            report({"event": "end", "trial": trial, **outcome})
    else:
        # spawn: a fresh interpreter per worker (torch and forked threads do not mix)
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            running: dict[Any, Trial] = {}  # future -> trial
            queue = list(todo)
            try:
                while queue or running:
                    while queue and len(running) < workers:
                        trial = queue.pop(0)
                        running[pool.submit(_worker, trial, spec, root)] = trial
                        report({"event": "start", "trial": trial})
                    finished, _ = wait(running, timeout=1.0, return_when=FIRST_COMPLETED)
                    for future in finished:
                        trial = running.pop(future)
                        report({"event": "end", "trial": trial, **future.result()})
            except KeyboardInterrupt:
                for future in running:
                    future.cancel()
                pool.shutdown(wait=False, cancel_futures=True)
                raise
    return results(spec, root)


def results(spec: BenchmarkSpec, root: Path) -> dict[str, Any]:
    """Every trial's status and return, and per (algorithm, env) the mean, IQM and 95% bootstrap CI over the
    seeds that finished. Written to results.json and summary.md in the benchmark directory."""
    rows, by_pair = [], {}
    for trial in trials(spec):
        run_dir, status = trial.run_dir(root), trial_status(trial, root)
        row = {"algorithm": trial.algorithm.name, "env": trial.env.name, "seed": trial.seed, "status": status,
               "run_dir": str(run_dir), "return": None}
        if status == "done":
            row["return"] = json.loads((run_dir / "eval.json").read_text())["return_mean"]
            by_pair.setdefault((trial.algorithm.name, trial.env.name), []).append(row["return"])
        elif status == "failed":
            row["error"] = json.loads((run_dir / ERROR_FILE).read_text())["message"]
        rows.append(row)
    summary = [{"algorithm": a, "env": e, **summarise(values)} for (a, e), values in by_pair.items()]
    out = {"trials": rows, "summary": summary}
    atomic_write_bytes(root / "results.json", json.dumps(out, indent=2).encode())
    atomic_write_bytes(root / "summary.md", markdown(out, spec).encode())
    return out


def markdown(out: dict[str, Any], spec: BenchmarkSpec) -> str:
    lines = [f"Return per agent at {spec.steps:,} env steps, {spec.eval_episodes} deterministic evaluation episodes "
             f"per seed; IQM = interquartile mean over seeds, CI = 95% percentile bootstrap of the IQM.", "",
             "| algorithm | env | n | mean | IQM | 95% CI |", "|---|---|---|---|---|---|"]
    for s in out["summary"]:
        lines.append(f"| {s['algorithm']} | {s['env']} | {s['n']} | {s['mean']:.3f} | {s['iqm']:.3f} | "
                     f"[{s['ci95'][0]:.3f}, {s['ci95'][1]:.3f}] |")
    failed = [t for t in out["trials"] if t["status"] == "failed"]
    if failed:
        lines += ["", "Failed trials:"] + [f"- {t['algorithm']} / {t['env']} / seed {t['seed']}: {t['error']}"
                                           for t in failed]
    return "\n".join(lines) + "\n"
