"""The README's Python API example runs as written (it trains 200k env steps: slow tier)."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def api_example() -> str:
    section = README.read_text().split("## Python API", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_readme_has_the_api_example():
    code = api_example()
    assert "algorithms.make(" in code and "algorithms.load(" in code and "algo.predict(" in code


@pytest.mark.slow
def test_readme_api_example_runs_as_written(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    scope: dict = {}
    exec(compile(api_example(), "README.md", "exec"), scope)
    assert (tmp_path / "spread.pt").is_file()
    assert scope["algo"].env_steps >= 200_000
    assert not scope["env"].agents  # the loop played a whole episode
