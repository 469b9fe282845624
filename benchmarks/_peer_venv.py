"""A peer library's own venv for the side-by-side benchmarks (benchmarl_compare.py, epymarl_compare.py).

A peer is never a dependency of this project: each comparison creates its venv once at the root of the repository
(git-ignored) with this machine's Python, installs the CPU torch wheel alone first and then the pinned packages with
torch pinned again (so that the resolver can never swap it for a CUDA build), and writes a marker with the versions
it installed. Later runs reuse the venv after checking those versions. Peers and our side run as subprocesses,
one after the other, each with its output in a log file.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


class SetupError(Exception):
    """A peer's venv could not be set up; the message says why and what to do."""


def tail(path: Path, lines: int = 15) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError:
        return "(no log)"
    return "\n".join("    " + line for line in text[-lines:])


def _spec(pins: dict[str, str]) -> list[str]:
    return [f"{name}=={version}" for name, version in pins.items()]


@dataclass
class PeerVenv:
    """`ROOT/<name>/` with torch `torch` installed first, then `pins`."""

    name: str
    pins: dict[str, str]
    torch: dict[str, str] = field(default_factory=lambda: {"torch": "2.13.0"})

    @property
    def path(self) -> Path:
        return ROOT / self.name

    @property
    def python(self) -> Path:
        return self.path / "bin" / "python"

    @property
    def marker(self) -> Path:  # the pins a finished setup installed
        return self.path / "peer-pins.json"

    def installed_versions(self) -> dict[str, str | None] | None:
        """The versions of the pinned packages in the venv (None if its Python does not run)."""
        names = [*self.torch, *self.pins]
        code = ("import importlib.metadata as m, json\n"
                f"out = {{}}\nfor n in {names!r}:\n"
                "    try: out[n] = m.version(n)\n"
                "    except m.PackageNotFoundError: out[n] = None\n"
                "print(json.dumps(out))")
        try:
            done = subprocess.run([str(self.python), "-c", code], capture_output=True, text=True, timeout=120)
        except (OSError, subprocess.TimeoutExpired):
            return None
        if done.returncode != 0:
            return None
        return json.loads(done.stdout.strip().splitlines()[-1])

    def matches(self, versions: dict[str, str | None] | None) -> bool:
        if not versions:
            return False
        # torch reports local versions such as 2.13.0+cpu
        return all((versions.get(n) or "").split("+")[0] == v for n, v in {**self.torch, **self.pins}.items())

    def setup(self, log: Path) -> dict[str, str]:
        """Create or reuse the venv; returns the installed versions. Raises SetupError."""
        if self.marker.exists() and self.matches(versions := self.installed_versions()):
            print(f"reusing {self.name}/", flush=True)
            return versions
        log.parent.mkdir(parents=True, exist_ok=True)
        with open(log, "w") as out:
            def step(what: str, command: list[str]) -> None:
                print(f"  {what} ...", flush=True)
                out.write(f"$ {' '.join(command)}\n")
                out.flush()
                try:
                    done = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT, timeout=1800)
                except FileNotFoundError as err:
                    raise SetupError(f"{what} failed: {err}") from None
                except subprocess.TimeoutExpired:
                    raise SetupError(f"{what} took over 30 minutes and was stopped; see {log}") from None
                if done.returncode != 0:
                    raise SetupError(f"{what} failed (exit {done.returncode}); the end of {log}:\n{tail(log)}")

            print(f"setting up {self.name}/ (log: {log})", flush=True)
            if not self.python.exists():
                # from inside a venv, -m venv builds on that venv's base interpreter
                step(f"creating {self.name} with {sys.executable}", [sys.executable, "-m", "venv", str(self.path)])
            pip = [str(self.python), "-m", "pip", "install", "--disable-pip-version-check"]
            step(f"installing {' '.join(_spec(self.torch))} (CPU wheel, first)", [*pip, *_spec(self.torch)])
            step(f"installing {' '.join(_spec(self.pins))}", [*pip, *_spec(self.torch), *_spec(self.pins)])
        versions = self.installed_versions()
        if not self.matches(versions):
            raise SetupError(f"{self.name} has {versions}, not the pinned {dict(self.torch, **self.pins)}; "
                             f"delete {self.path} and run again (log: {log})")
        self.marker.write_text(json.dumps(versions, indent=1))
        return versions


    def setup_or_exit(self, log: Path, peer: str) -> dict[str, str]:
        """`setup`, printing the versions; a failure exits with one message naming `peer`."""
        try:
            versions = self.setup(log)
        except SetupError as err:
            sys.exit(f"error: could not set up {peer}'s venv: {err}")
        print(f"{peer} venv: " + ", ".join(f"{n} {v}" for n, v in versions.items()), flush=True)
        return versions


def our_python() -> str:
    """This repository's .venv Python, or the running interpreter if there is none."""
    python = ROOT / ".venv" / "bin" / "python"
    return str(python if python.exists() else sys.executable)


def run_child(name: str, command: list[str], result: Path | None, log: Path, timeout: float, cwd: Path = ROOT,
              env: dict[str, str] | None = None) -> dict:
    """Run one side to completion with one thread, its output in `log`; returns the JSON it wrote to `result`
    ({} where `result` is None). A failure exits with the end of the log."""
    print(f"running {name} (log: {log})", flush=True)
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "RL_WARNINGS": "False", "OMP_NUM_THREADS": "1", **(env or {})}
    if result is not None:
        result.unlink(missing_ok=True)
    with open(log, "w") as out:
        try:
            done = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=cwd, timeout=timeout)
        except subprocess.TimeoutExpired:
            sys.exit(f"error: the {name} run did not finish in {timeout:g} s; see {log}")
    if done.returncode != 0 or (result is not None and not result.exists()):
        sys.exit(f"error: the {name} run failed (exit {done.returncode}); the end of {log}:\n{tail(log)}")
    return json.loads(result.read_text()) if result is not None else {}
