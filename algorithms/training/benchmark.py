"""Run a benchmark's trials into one directory: in this process, or on local worker processes. Re-running skips
finished trials and resumes interrupted ones from their checkpoints; a failing trial is recorded and the others
go on.

    BENCH_DIR/
        spec.yaml                          the spec last run (a later spec must agree on every trial both hold)
        ALGO_NAME/ENV_NAME/seed-S/         one `marl train` run directory per trial (config.yaml, eval.json, ...)
        ALGO_NAME/ENV_NAME/seed-S/error.json   a failed trial's message (removed when it is retried)
        results.json, summary.md           written after every run of the benchmark (run_dir relative to
                                           BENCH_DIR in results.json, so the directory can be moved or shared)
"""
from __future__ import annotations

import json
import multiprocessing
import os
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from pathlib import Path
from typing import Any, Callable

import yaml

from algorithms.core.checkpoint import atomic_write_bytes
from algorithms.core.interrupts import sigterm_interrupts
from algorithms.core.logger import logged_env_steps
from algorithms.core.statistics import summarise
from algorithms.errors import MARLError
from algorithms.training.benchmark_spec import BenchmarkSpec, Trial, trials
from algorithms.training.run import Trainer

ERROR_FILE = "error.json"
POLL_SECONDS = 10.0  # how often the progress view reads the metrics.csv of trials run by workers or Ray
Progress = Callable[[dict[str, Any]], None]


def trial_status(trial: Trial, root: Path, steps: int | None = None) -> str:
    """done (eval.json written, at `steps` env steps or more if given), failed (error.json), started (a run
    directory without either, or one trained to fewer steps), or pending."""
    run_dir = trial.run_dir(root)
    if (run_dir / "eval.json").exists() and (steps is None or _evaluated_at(run_dir) >= steps):
        return "done"
    if (run_dir / ERROR_FILE).exists():
        return "failed"
    return "started" if (run_dir / "config.yaml").exists() else "pending"


def _evaluated_at(run_dir: Path) -> int:
    return int(json.loads((run_dir / "eval.json").read_text(encoding="utf-8")).get("env_steps", 0))


def run_trial(trial: Trial, spec: BenchmarkSpec, root: Path, on_iteration: Callable | None = None) -> dict[str, Any]:
    """Train one trial to spec.steps (resuming it if it was started, or extending one trained to fewer steps: a
    race's next rung); a failure is written to error.json and returned, never raised, so the other trials go on.
    KeyboardInterrupt propagates (the trial stays resumable). A trial that another process is training (the same
    benchmark started twice, another machine on shared storage) is left to it: status "busy", nothing written."""
    run_dir = trial.run_dir(root)
    try:
        if (run_dir / "config.yaml").exists():
            trainer = Trainer.resume(run_dir, steps=spec.steps)
        else:
            run_dir.parent.mkdir(parents=True, exist_ok=True)
            trainer = Trainer.create(trial.run_spec(spec), run_dir)
        (run_dir / ERROR_FILE).unlink(missing_ok=True)  # retried: the trainer holds the run now
        result = trainer.train(on_iteration)
        return {"status": "done", "return": result.get("return_mean")}
    except KeyboardInterrupt:
        raise
    except Exception as err:  # one trial's failure (an env that raises, a bad setting) is recorded, not fatal
        if isinstance(err, MARLError) and err.code == "run-in-use":
            return {"status": "busy", "error": str(err)}
        if isinstance(err, MARLError):
            return record_failure(trial, root, err.code, str(err))
        return record_failure(trial, root, "failed", f"{type(err).__name__}: {err}")


def _worker(trial: Trial, spec: BenchmarkSpec, root: Path, on_iteration: Callable | None = None) -> dict[str, Any]:
    import torch  # each worker process: one torch thread (trials run side by side)

    torch.set_num_threads(1)
    return run_trial(trial, spec, root, on_iteration)


def _local_worker(trial: Trial, spec: BenchmarkSpec, root: Path, parent: int) -> dict[str, Any]:
    """A trial in a local worker process. SIGTERM (sent by the benchmark when it is stopped) ends the trial at once,
    resumable from its last checkpoint; so does the benchmark process dying (killed with SIGKILL, out of memory):
    a worker whose parent is gone stops at its next training iteration instead of training on, unseen."""
    def check_parent(metrics, steps_per_s) -> None:
        if os.getppid() != parent:
            os._exit(1)  # orphaned: nobody will collect this result, and the lock would block a re-run

    try:
        with sigterm_interrupts():
            return _worker(trial, spec, root, check_parent)
    except KeyboardInterrupt:
        os._exit(1)  # stopped: the pool is being shut down, nothing to send back


def claim_bench_dir(root: Path, raw_spec: str, conflict: Callable[[Any, Any], str | None] | None = None) -> None:
    """Create the benchmark (or tuning) directory, or check that an existing one was made by the same spec. With
    `conflict(saved_data, new_data)` (None when the new spec may run there, else why not) a different spec is
    accepted where it says so, and spec.yaml becomes the new one: a benchmark grown by seeds or entries."""
    saved = root / "spec.yaml"
    if saved.exists():
        made, new = yaml.safe_load(saved.read_text(encoding="utf-8")), yaml.safe_load(raw_spec)
        if made == new:
            return
        why = "it is not the same spec" if conflict is None else conflict(made, new)
        if why is not None:
            raise MARLError("bench-dir-mismatch", f"{root} holds a benchmark run from a different spec: {why}",
                            "choose another --out, or restore the spec that made it (" + str(saved) + ")"
                            + ("" if conflict is None else "; a spec may add or drop seeds, algorithms and envs, "
                               "but every trial it shares with the directory must be the same run"))
        atomic_write_bytes(saved, raw_spec.encode())
        return
    if root.exists() and (not root.is_dir() or any(root.iterdir())):
        raise MARLError("bench-dir-exists", f"{root} already exists and is not a benchmark directory",
                        "choose another --out")
    root.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(saved, raw_spec.encode())


def selected_trials(spec: BenchmarkSpec, selected: Callable[[Trial], bool] | None) -> list[Trial]:
    """The grid's trials that `selected` (an `--only` filter) keeps; all of them without one."""
    return [t for t in trials(spec) if selected is None or selected(t)]


def done_count(grid: list[Trial], root: Path, steps: int) -> int:
    """How many of these trials are finished (evaluated at `steps` env steps)."""
    return sum(trial_status(t, root, steps) == "done" for t in grid)


def rows_with(out: dict[str, Any], *statuses: str) -> list[dict[str, Any]]:
    """The rows of results() with one of these statuses."""
    return [t for t in out["trials"] if t["status"] in statuses]


def unfinished_rows(out: dict[str, Any]) -> list[dict[str, Any]]:
    """The rows of results() not trained to the end yet and not failed: pending or started."""
    return rows_with(out, "pending", "started")


def run_benchmark(spec: BenchmarkSpec, root: Path, workers: int = 1, progress: Progress | None = None,
                  ray_address: str | None = None, selected: Callable[[Trial], bool] | None = None) -> dict:
    """Every unfinished trial (of those `selected`, if given), then the results of the whole grid: in this process
    (workers=1), on `workers` local processes, or on Ray (ray_address: "local" starts a Ray for this run, else the
    address of a running cluster). `progress(event)` hears trial starts and ends (and, run in this process, every
    training iteration). Interrupted (Ctrl-C, SIGTERM), it stops every running trial, still writes results.json
    and summary.md, and re-raises."""
    report = progress or (lambda event: None)
    todo = [t for t in selected_trials(spec, selected) if trial_status(t, root, spec.steps) != "done"]
    root = root.resolve()  # worker processes and Ray tasks may start elsewhere
    try:
        if ray_address is not None:
            _on_ray(todo, spec, root, ray_address, report)
        elif workers <= 1:
            for trial in todo:
                report({"event": "start", "trial": trial})
                outcome = run_trial(trial, spec, root, lambda metrics, sps, t=trial: report(
                    {"event": "iteration", "trial": t, "env_steps": metrics["env_steps"]}))
                report({"event": "end", "trial": trial, **outcome})
        else:
            _on_local_workers(todo, spec, root, workers, report)
    except KeyboardInterrupt:
        results(spec, root)  # the trials finished before the interrupt count in the tables
        raise
    return results(spec, root)


def _on_local_workers(todo: list[Trial], spec: BenchmarkSpec, root: Path, workers: int, report: Progress) -> None:
    # spawn: a fresh interpreter per worker (torch and forked threads do not mix)
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        def finished(futures):
            done, _ = wait(futures, timeout=1.0, return_when=FIRST_COMPLETED)
            return [(f, f.result) for f in done]

        def cancel(futures):
            # shutdown() alone lets running trials train to their end; SIGTERM stops them at once, each resumable
            # from its last checkpoint (the executor keeps no public handle on its processes)
            processes = list((getattr(pool, "_processes", None) or {}).values())
            pool.shutdown(wait=False, cancel_futures=True)
            for process in processes:
                if process.is_alive():
                    process.terminate()

        _drive(todo, spec, root, workers, lambda t: pool.submit(_local_worker, t, spec, root, os.getpid()),
               finished, cancel, report)


def _drive(todo: list[Trial], spec: BenchmarkSpec, root: Path, capacity: int, submit: Callable,
           finished: Callable, cancel: Callable, report: Progress) -> None:
    """Keep `capacity` trials in flight on an executor until all are done. `submit(trial)` returns a handle,
    `finished(handles)` the (handle, get_result) pairs that ended, `cancel(handles)` stops the rest (Ctrl-C).
    A worker that dies (killed, out of memory) fails its trial, not the benchmark."""
    running: dict[Any, Trial] = {}
    queue = list(todo)
    polled = time.monotonic()
    try:
        while queue or running:
            while queue and len(running) < capacity:
                trial = queue.pop(0)
                running[submit(trial)] = trial
                report({"event": "start", "trial": trial})
            if time.monotonic() - polled >= POLL_SECONDS:  # trials elsewhere report only their end: read their logs
                polled = time.monotonic()
                for trial in running.values():
                    report({"event": "iteration", "trial": trial, "env_steps": logged_env_steps(trial.run_dir(root))})
            for handle, get in finished(list(running)):
                trial = running.pop(handle)
                try:
                    outcome = get()
                except Exception as err:  # the worker itself died
                    outcome = record_failure(trial, root, "worker-died", f"{type(err).__name__}: {err}")
                report({"event": "end", "trial": trial, **outcome})
    except KeyboardInterrupt:
        cancel(list(running))
        raise


def _on_ray(todo: list[Trial], spec: BenchmarkSpec, root: Path, address: str, report: Progress) -> None:
    """One Ray task per trial with `cpus_per_trial` CPUs; as many in flight as the cluster has CPUs for. Trials
    write their run directories under `root`: on a multi-node cluster it must be storage every node mounts."""
    try:
        import ray
    except ImportError:
        raise MARLError("missing-ray", "--ray needs Ray, which is not installed",
                        'pip install "marl-advisor[ray]"') from None
    started_here = not ray.is_initialized()
    if started_here:
        ray.init(address=None if address == "local" else address, include_dashboard=False,
                 log_to_driver=False, configure_logging=False)
    try:
        capacity = max(1, int(ray.cluster_resources().get("CPU", 1) // spec.cpus_per_trial))
        remote = ray.remote(num_cpus=spec.cpus_per_trial)(_worker)

        def finished(refs):
            done, _ = ray.wait(refs, num_returns=1, timeout=1.0)
            return [(r, lambda r=r: ray.get(r)) for r in done]

        def cancel(refs):
            for ref in refs:
                ray.cancel(ref, force=True)

        _drive(todo, spec, root, capacity, lambda t: remote.remote(t, spec, root), finished, cancel, report)
    finally:
        if started_here:
            ray.shutdown()


def record_failure(trial: Trial, root: Path, code: str, message: str) -> dict[str, Any]:
    run_dir = trial.run_dir(root)
    run_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(run_dir / ERROR_FILE, json.dumps({"code": code, "message": message}).encode())
    return {"status": "failed", "error": message}


def results(spec: BenchmarkSpec, root: Path) -> dict[str, Any]:
    """Every trial's status and return, and per (algorithm, env) the mean, IQM and 95% bootstrap CI over the
    seeds that finished. Written to results.json and summary.md in the benchmark directory; the returned rows
    hold absolute run directories, the file holds them relative to it."""
    rows, by_pair = [], {}
    for trial in trials(spec):
        run_dir, status = trial.run_dir(root), trial_status(trial, root, spec.steps)
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
    portable = {**out, "trials": [{**row, "run_dir": str(Path(row["run_dir"]).relative_to(root))} for row in rows]}
    atomic_write_bytes(root / "results.json", json.dumps(portable, indent=2).encode())
    atomic_write_bytes(root / "summary.md", markdown(out, spec).encode())
    return out


def markdown(out: dict[str, Any], spec: BenchmarkSpec) -> str:
    actions = "deterministic" if spec.eval_deterministic else "sampled-action"
    lines = [f"Return per agent at {spec.steps:,} env steps, {spec.eval_episodes} {actions} evaluation episodes "
             f"per seed; IQM = interquartile mean over seeds, CI = 95% percentile bootstrap of the IQM.", "",
             "| algorithm | env | n | mean | IQM | 95% CI |", "|---|---|---|---|---|---|"]
    for s in out["summary"]:
        lines.append(f"| {s['algorithm']} | {s['env']} | {s['n']} | {s['mean']:.3f} | {s['iqm']:.3f} | "
                     f"[{s['ci95'][0]:.3f}, {s['ci95'][1]:.3f}] |")
    unfinished: dict[tuple[str, str], list[str]] = {}
    for t in unfinished_rows(out):
        unfinished.setdefault((t["algorithm"], t["env"]), []).append(str(t["seed"]))
    if unfinished:
        count = sum(map(len, unfinished.values()))
        lines += ["", f"{count} of {len(out['trials'])} trials not finished yet (the spec run without --only runs them): "
                  + "; ".join(f"{a} / {e}, seeds {', '.join(seeds)}" for (a, e), seeds in unfinished.items())]
    failed = rows_with(out, "failed")
    if failed:
        lines += ["", "Failed trials:"] + [f"- {t['algorithm']} / {t['env']} / seed {t['seed']}: {t['error']}"
                                           for t in failed]
    return "\n".join(lines) + "\n"
