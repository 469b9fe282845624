"""`marl tune`: configurations drawn from a search space, trained on Ray Tune with ASHA early stopping on the
evaluation return, then the best re-run on fresh seeds beside the defaults. Re-running the same spec into the same
directory resumes: finished evaluations are replayed to the scheduler, interrupted trials go on from their
checkpoints, and the final re-runs are a `marl benchmark` directory (finished seeds skipped).

    TUNE_DIR/
        spec.yaml                       the spec as run (a re-run must match it)
        search/configurations.json      the drawn configurations (the spec's seed fixes them)
        search/trial-NNN/               one `marl train` run directory per configuration, plus reports.json
                                        (its evaluations) or error.json
        best.yaml                       the winner as a run config: `marl train --config TUNE_DIR/best.yaml`
        final/                          best (and defaults) on the final seeds: a `marl benchmark` directory
        tune.json                       the search, the winner and the final statistics
        tune.lock                       held while a `marl tune` runs here: one search per directory
"""
from __future__ import annotations

import importlib
import json
import os
from pathlib import Path
from typing import Any, Callable

import yaml

from algorithms.core.checkpoint import atomic_write_bytes
from algorithms.core.run_dir import RunSpec
from algorithms.core.run_lock import RunLock
from algorithms.core.statistics import probability_of_improvement
from algorithms.errors import MARLError
from algorithms.training.benchmark import claim_bench_dir, rows_with, run_benchmark
from algorithms.training.run import Trainer
from algorithms.training.tune_spec import TuneSpec

REPORTS, ERROR_FILE = "reports.json", "error.json"
TUNE_LOCK = Path("tune.lock")
Progress = Callable[[dict[str, Any]], None]


def trial_dir(root: Path, index: int) -> Path:
    return root / "search" / f"trial-{index:03d}"


def _read_json(path: Path, default: Any) -> Any:
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else default


def search_trial(params: dict[str, Any], spec: TuneSpec, root: Path) -> None:
    """One configuration as a Ray Tune function trainable: train to each budget in turn (a resumed run is exact),
    evaluate, report. ASHA ends the function at a report when the configuration falls behind."""
    from ray import tune

    index = params["trial"]
    run_dir = trial_dir(root, index)
    config = _read_json(root / "search" / "configurations.json", [])[index]
    reports = _read_json(run_dir / REPORTS, [])
    for report in reports:  # a resumed search: the scheduler hears what this trial already measured
        tune.report(report)
    (run_dir / ERROR_FILE).unlink(missing_ok=True)
    try:
        for budget in spec.budgets():
            if reports and reports[-1]["env_steps"] >= budget:
                continue
            if (run_dir / "config.yaml").exists():
                trainer = Trainer.resume(run_dir, steps=budget)
            else:
                run_dir.parent.mkdir(parents=True, exist_ok=True)
                trainer = Trainer.create(RunSpec(
                    algo=spec.algorithm, env=spec.env.env, env_kwargs=dict(spec.env.env_kwargs), steps=budget,
                    seed=spec.seed, num_envs=spec.num_envs, device="cpu", eval_episodes=spec.eval_episodes,
                    config=dict(config)), run_dir)
            result = trainer.train()
            report = {"trial": index, "env_steps": int(result["env_steps"]), "return": float(result["return_mean"])}
            reports.append(report)
            atomic_write_bytes(run_dir / REPORTS, json.dumps(reports).encode())
            tune.report(report)
    except Exception as err:  # recorded for the summary; the other configurations go on
        message = str(err) if isinstance(err, MARLError) else f"{type(err).__name__}: {err}"
        run_dir.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(run_dir / ERROR_FILE, json.dumps({"message": message}).encode())


def run_tune(spec: TuneSpec, raw_spec: str, root: Path, address: str = "local",
             progress: Progress | None = None) -> dict[str, Any]:
    """The search on Ray Tune (a Ray started here, or the cluster at `address`), then the final re-runs.
    `progress(event)` hears every evaluation ({"event": "report", ...}) and the final trials' events."""
    try:
        importlib.import_module("ray.tune")
    except ImportError:
        raise MARLError("missing-ray", "marl tune runs on Ray Tune, which is not installed",
                        'pip install "marl-advisor[ray]"') from None
    claim_bench_dir(root, raw_spec)
    root = root.resolve()  # Ray's workers start elsewhere
    # two searches in one directory would draw the same trials into the same run directories
    lock = RunLock(root, TUNE_LOCK, doing="being tuned")
    try:
        return _search(spec, root, address, progress or (lambda event: None))
    finally:
        lock.release()


def _search(spec: TuneSpec, root: Path, address: str, report: Progress) -> dict[str, Any]:
    import ray
    from ray import tune
    from ray.tune.schedulers import ASHAScheduler

    from algorithms.training.tune_callback import LISTENER, Relay

    configurations = spec.configurations()
    (root / "search").mkdir(exist_ok=True)
    atomic_write_bytes(root / "search" / "configurations.json", json.dumps(configurations, indent=1).encode())

    # Ctrl-C raises here instead of Ray Tune's graceful stop, which would look like a finished search
    os.environ.setdefault("TUNE_DISABLE_SIGINT_HANDLER", "1")
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    started_here = not ray.is_initialized()
    if started_here:
        ray.init(address=None if address == "local" else address, include_dashboard=False, log_to_driver=False,
                 configure_logging=False)
    LISTENER["report"] = report
    try:
        trainable = tune.with_resources(tune.with_parameters(search_trial, spec=spec, root=root),
                                        {"cpu": spec.cpus_per_trial})
        scheduler = ASHAScheduler(time_attr="env_steps", metric="return", mode="max", max_t=spec.steps,
                                  grace_period=spec.grace_steps, reduction_factor=spec.reduction_factor)
        tuner = tune.Tuner(trainable, param_space={"trial": tune.grid_search(list(range(spec.samples)))},
                           tune_config=tune.TuneConfig(scheduler=scheduler),
                           run_config=tune.RunConfig(name="ray", storage_path=str(root / "search"), verbose=0,
                                                     callbacks=[Relay()]))
        tuner.fit()
        search = collect(spec, root)
        if search["best"] is None:
            raise MARLError("tune-failed", "no configuration reached the full budget: every trial failed",
                            f"see {root / 'search'}/trial-NNN/{ERROR_FILE}")
        write_best(spec, root, search["best"])
        final = spec.final_benchmark(search["best"]["config"])
        final_dir = root / "final"
        claim_bench_dir(final_dir, yaml.safe_dump(_as_benchmark_yaml(final), sort_keys=False))
        final_out = run_benchmark(final, final_dir, progress=report, ray_address=address)
    finally:
        LISTENER.clear()
        if started_here:
            ray.shutdown()
    out = {**search, "best_config_file": str(root / "best.yaml"), "final": _final_statistics(final_out)}
    atomic_write_bytes(root / "tune.json", json.dumps(out, indent=2).encode())
    return out


def collect(spec: TuneSpec, root: Path) -> dict[str, Any]:
    """Every configuration's evaluations and status (completed, stopped at N env steps, failed); the best is the
    highest return at the full budget among those that reached it."""
    configurations = _read_json(root / "search" / "configurations.json", [])
    rows = []
    for index, config in enumerate(configurations):
        run_dir = trial_dir(root, index)
        reports = _read_json(run_dir / REPORTS, [])
        error = _read_json(run_dir / ERROR_FILE, None)
        last = reports[-1] if reports else None
        status = "failed" if error else "completed" if last and last["env_steps"] >= spec.steps else "stopped"
        rows.append({"trial": index, "config": {d.name: config[d.name] for d in spec.search}, "status": status,
                     "stopped_at": None if status != "stopped" else (last["env_steps"] if last else 0),
                     "return": last["return"] if last else None, "reports": reports, "run_dir": str(run_dir),
                     **({"error": error["message"]} if error else {})})
    completed = [r for r in rows if r["status"] == "completed"]
    best = max(completed, key=lambda r: r["return"], default=None)
    return {"trials": rows, "best": None if best is None else
            {"trial": best["trial"], "config": {**spec.fixed, **best["config"]}, "search_return": best["return"]}}


def write_best(spec: TuneSpec, root: Path, best: dict[str, Any]) -> None:
    """best.yaml: the winning trial's run config (every config field), which `marl train --config` accepts."""
    run = yaml.safe_load((trial_dir(root, best["trial"]) / "config.yaml").read_text(encoding="utf-8"))
    data = {"algo": spec.algorithm, "env": spec.env.env, "env_kwargs": dict(spec.env.env_kwargs),
            "steps": spec.steps, "num_envs": run["num_envs"], "eval_episodes": spec.eval_episodes,
            "config": run["config"]}
    header = (f"# marl tune: the best of {spec.samples} configurations of {spec.algorithm} on {spec.env.env} "
              f"(tuned: {', '.join(d.name for d in spec.search)}).\n# Train it: marl train --config "
              f"{root / 'best.yaml'} [--seed N] [--steps N]\n")
    atomic_write_bytes(root / "best.yaml", (header + yaml.safe_dump(data, sort_keys=False)).encode())


def _as_benchmark_yaml(final) -> dict[str, Any]:
    return {"algorithms": [{"algorithm": a.algorithm, "set": a.set, "name": a.name} for a in final.algorithms],
            "envs": [{"env": e.env, "env_kwargs": e.env_kwargs, "name": e.name} for e in final.envs],
            "seeds": final.seeds, "steps": final.steps, "num_envs": final.num_envs,
            "eval_episodes": final.eval_episodes, "cpus_per_trial": final.cpus_per_trial}


def _final_statistics(final_out: dict[str, Any]) -> dict[str, Any]:
    """The final benchmark's summary, and P(best > defaults) over the final seeds when both ran."""
    by_arm: dict[str, list[float]] = {}
    for t in rows_with(final_out, "done"):
        by_arm.setdefault(t["algorithm"], []).append(t["return"])
    out = {"summary": final_out["summary"], "trials": final_out["trials"]}
    if by_arm.get("best") and by_arm.get("defaults"):
        out["probability_of_improvement"] = probability_of_improvement(by_arm["best"], by_arm["defaults"])
    return out
