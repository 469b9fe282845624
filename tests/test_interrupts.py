"""SIGTERM is handled like Ctrl-C: commands exit 143 with the usual message, and a benchmark stopped that way (or
killed outright) leaves no worker process training on its own."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import typer
import yaml

from advisor.console import handles_errors
from algorithms.core.interrupts import Terminated, sigterm_interrupts
from algorithms.core.run_lock import LOCK_FILE

ROOT = Path(__file__).resolve().parents[1]


def test_sigterm_raises_a_keyboard_interrupt_inside_the_block_only():
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(Terminated) as stopped:
        with sigterm_interrupts():
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)  # the handler runs before this ends
    assert isinstance(stopped.value, KeyboardInterrupt)
    assert signal.getsignal(signal.SIGTERM) is before


@pytest.mark.parametrize("interrupt, code", [(lambda: os.kill(os.getpid(), signal.SIGTERM), 143),
                                             (lambda: (_ for _ in ()).throw(KeyboardInterrupt()), 130)])
def test_a_command_interrupted_by_sigterm_exits_143_and_by_ctrl_c_130(interrupt, code, capsys):
    @handles_errors
    def command():
        interrupt()
        time.sleep(5)

    with pytest.raises(typer.Exit) as exited:
        command()
    assert exited.value.exit_code == code
    assert "interrupted" in capsys.readouterr().err


def _benchmark(spec: Path, root: Path, *extra: str) -> dict:
    """`marl benchmark SPEC --out ROOT --workers 2 EXTRA...` in a fresh interpreter: the subprocess arguments."""
    return {"args": [sys.executable, "-m", "advisor.cli", "benchmark", str(spec), "--out", str(root),
                     "--workers", "2", *extra],
            "text": True, "cwd": ROOT, "env": {**os.environ, "PYTHONPATH": str(ROOT)}}


def _start(spec: Path, root: Path) -> subprocess.Popen:
    return subprocess.Popen(**_benchmark(spec, root), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)


def _wait_until(condition, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def _training(run_dirs: list[Path]) -> bool:
    """Both trials have logged a training iteration (their workers are under way)."""
    return all((d / "metrics.csv").exists() and len((d / "metrics.csv").read_text().splitlines()) > 1
               for d in run_dirs)


def _unlocked(run_dir: Path) -> bool:
    """No process holds the trial's run lock (its worker has ended or not started). Read from /proc/locks rather
    than by taking the lock: a probe holding it for an instant could make a starting worker find its run busy."""
    lock = run_dir / LOCK_FILE
    if not lock.exists():
        return True
    inode = f":{lock.stat().st_ino}"
    return not any(field.endswith(inode) for line in Path("/proc/locks").read_text().splitlines()
                   for field in line.split())


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/locks").exists(), reason="reads held locks from Linux's /proc/locks")
def test_a_benchmark_sent_sigterm_or_killed_stops_its_workers_and_resumes(tmp_path):
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump({"algorithms": ["iql"], "envs": ["matrix:climbing"], "seeds": [0, 1],
                                    "steps": 12_000}))
    root = tmp_path / "bench"
    run_dirs = [root / "iql" / "climbing" / f"seed-{s}" for s in (0, 1)]

    process = _start(spec, root)
    try:
        _wait_until(lambda: _training(run_dirs), 180, "both trials to start")
        process.send_signal(signal.SIGTERM)  # the benchmark process only, as `kill PID` does
        output, _ = process.communicate(timeout=60)  # without waiting for the trials to end
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    assert process.returncode == 143, output
    assert "interrupted" in output and "Traceback" not in output
    for run_dir in run_dirs:
        _wait_until(lambda: _unlocked(run_dir), 30, "the workers to stop")
        assert not (run_dir / "eval.json").exists()
    assert "2 of 2 trials not finished yet" in (root / "summary.md").read_text()

    process = _start(spec, root)  # again, killed outright this time: its workers find themselves orphaned
    try:
        _wait_until(lambda: all(not _unlocked(d) for d in run_dirs), 180, "both trials to resume")
        process.send_signal(signal.SIGKILL)
        process.communicate(timeout=30)
        for run_dir in run_dirs:
            _wait_until(lambda: _unlocked(run_dir), 60, "the orphaned workers to stop")
    finally:
        os.killpg(process.pid, signal.SIGKILL)

    finish = subprocess.run(**_benchmark(spec, root, "--json"), capture_output=True, timeout=600)
    assert finish.returncode == 0, finish.stdout + finish.stderr
    assert [t["status"] for t in json.loads(finish.stdout)["trials"]] == ["done", "done"]
