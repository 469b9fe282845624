"""One training process per run directory: a second one is refused with the holder named, a benchmark leaves
such a trial alone, and a killed holder leaves no stale lock."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from advisor.cli import app
from algorithms.core.run_lock import LOCK_FILE, RunLock
from algorithms.errors import MARLError

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[1]


def test_a_second_holder_is_refused_with_the_first_named_until_it_lets_go(tmp_path):
    first = RunLock(tmp_path)
    with pytest.raises(MARLError) as refused:
        RunLock(tmp_path)
    assert refused.value.code == "run-in-use" and f"pid {os.getpid()}" in str(refused.value)
    first.release()
    RunLock(tmp_path).release()  # free again
    assert (tmp_path / LOCK_FILE).exists()  # the file stays: only the OS lock comes and goes


def test_a_killed_holder_leaves_no_stale_lock(tmp_path):
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from pathlib import Path; from algorithms.core.run_lock import "
         "RunLock; lock = RunLock(Path(sys.argv[1])); print('held', flush=True); time.sleep(120)", str(tmp_path)],
        stdout=subprocess.PIPE, text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(MARLError, match=f"pid {holder.pid} "):
            RunLock(tmp_path)
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    RunLock(tmp_path).release()  # the OS dropped the dead process's lock


def test_resume_and_benchmark_leave_a_run_that_another_process_trains(tmp_path):
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump({"algorithms": ["vdn"], "envs": ["matrix:climbing"], "seeds": [0], "steps": 300}))
    bench = ["benchmark", str(spec), "--out", str(tmp_path / "bench"), "--json"]
    assert runner.invoke(app, bench).exit_code == 0
    run = tmp_path / "bench" / "vdn" / "climbing" / "seed-0"
    (run / "eval.json").unlink()  # as if stopped before its evaluation: the next run would resume it
    metrics = (run / "metrics.csv").read_text()

    other = RunLock(run)  # another process is training it
    resumed = runner.invoke(app, ["train", "--resume", str(run)])
    said = " ".join(resumed.output.split())  # rich wraps long lines
    assert resumed.exit_code != 0 and "run-in-use" in said and f"being trained by pid {os.getpid()}" in said
    assert "Traceback" not in said
    again = runner.invoke(app, bench)
    assert again.exit_code == 0, again.output
    assert [t["status"] for t in json.loads(again.stdout)["trials"]] == ["started"]  # left alone, not failed
    assert not (run / "error.json").exists() and (run / "metrics.csv").read_text() == metrics

    other.release()
    done = runner.invoke(app, bench)
    assert done.exit_code == 0 and [t["status"] for t in json.loads(done.stdout)["trials"]] == ["done"]
