"""The standalone QMIX template (`marl scaffold qmix --standalone`): one train.py needing only torch, numpy,
pettingzoo and the env's package, learning like the bundled QMIX on cooperative navigation.

Bars (per-agent return over 25 steps): random -26.8, do-nothing -24.4; the bundled QMIX learning test
(tests/learning/test_learning_qmix.py, same settings) asserts > -23.4 and measured -21.5, -22.9, -19.9 on seeds 0-2.

Measured with the rendered file before writing the assertion (this shared 2-core machine, ~35 s each):
  python train.py --steps 40000 --num-envs 8 --updates-per-iteration 8 --epsilon-anneal-steps 10000
                  --standardise-rewards --tau 0.01 --eval-episodes 64 --seed S
  seed 0: -20.66, seed 1: -20.77  (bundled: -21.5, -22.9): within the bundled spread across seeds.
The file's initialisation draws random numbers in a different order (nn.Linear's default init before the
orthogonal one), so the same seed is not bit-identical to the bundled run, only statistically alike.
"""
import json
import string
import subprocess
import sys
from pathlib import Path

import pytest

TEMPLATE = Path(__file__).resolve().parents[1] / "advisor" / "scaffold" / "templates" / "standalone_qmix.py.tmpl"
RANDOM, NOOP = -26.8, -24.4


def render(tmp_path: Path) -> Path:
    text = string.Template(TEMPLATE.read_text()).substitute(
        env_module="mpe2.simple_spread_v3", env_kwargs="{'N': 3, 'local_ratio': 0.5, 'max_cycles': 25}")
    path = tmp_path / "train.py"
    path.write_text(text)
    return path


def test_standalone_qmix_imports_nothing_from_the_project(tmp_path: Path):
    text = render(tmp_path).read_text()
    compile(text, "train.py", "exec")
    for package in ("algorithms", "advisor"):
        assert f"from {package}" not in text and f"import {package}" not in text


@pytest.mark.slow
def test_standalone_qmix_beats_random_and_do_nothing_on_spread(tmp_path: Path):
    script = render(tmp_path)
    out = tmp_path / "run"
    subprocess.run([sys.executable, str(script), "--steps", "40000", "--num-envs", "8",
                    "--updates-per-iteration", "8", "--epsilon-anneal-steps", "10000", "--standardise-rewards",
                    "--tau", "0.01", "--eval-episodes", "64", "--seed", "0", "--out", str(out)],
                   cwd=tmp_path, check=True, timeout=300)
    result = json.loads((out / "eval.json").read_text())
    assert result["episodes"] == 64
    header = (out / "metrics.csv").read_text().splitlines()[0]
    assert header == "env_steps,return_mean"
    assert result["return_mean"] > NOOP + 1.0, result
    assert result["return_mean"] > RANDOM + 3.4, result
