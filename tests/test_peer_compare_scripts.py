"""The side-by-side scripts against peer libraries (benchmarks/epymarl_compare.py, benchmarl_compare.py): their
venv bookkeeping and their refusals, without installing or running a peer."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from _peer_venv import PeerVenv  # noqa: E402


def test_a_peer_venv_is_reused_only_with_the_pinned_versions():
    venv = PeerVenv(".venv-test-peer", {"sacred": "0.8.7"})
    assert venv.matches({"torch": "2.13.0+cpu", "sacred": "0.8.7"})  # a local version tag is the same release
    assert not venv.matches({"torch": "2.13.0", "sacred": "0.8.6"})
    assert not venv.matches({"torch": "2.13.0", "sacred": None})  # not installed
    assert not venv.matches(None)  # its Python does not run
    assert venv.python == ROOT / ".venv-test-peer" / "bin" / "python"


def test_epymarl_compare_without_a_checkout_says_how_to_get_one(tmp_path):
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "epymarl_compare.py"), "--epymarl",
                           str(tmp_path / "nowhere"), "--out", str(tmp_path / "out")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert "no EPyMARL checkout" in done.stderr and "git clone https://github.com/uoe-agents/epymarl" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "out").exists()  # nothing set up or run


def test_epymarl_compare_refuses_a_budget_below_one_evaluation_interval(tmp_path):
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "epymarl_compare.py"), "--steps", "1000"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "--steps must be at least 50,000" in done.stderr
