"""Shared fixtures: small, fast settings so the suite fits CI's 2 cores."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from advisor.ruleset import RULE_FILES, default_rules_dir

SPREAD = "mpe2:simple_spread_v3"
SPREAD_KWARGS = {"N": 3, "local_ratio": 0.5, "max_cycles": 25}


@pytest.fixture(autouse=True)
def _few_threads():
    torch.set_num_threads(1)  # tests run beside each other on 2 cores; one thread each is fastest
    yield


@pytest.fixture
def rules_copy(tmp_path: Path) -> Path:
    """A writable copy of the shipped rule files."""
    for name in RULE_FILES:
        (tmp_path / name).write_text(default_rules_dir().joinpath(name).read_text())
    return tmp_path


def edit(rules_dir: Path, name: str, old: str, new: str) -> None:
    """Replace the first `old` in a copied rule file (which must contain it) by `new`."""
    path = rules_dir / name
    text = path.read_text()
    assert old in text, f"{old!r} not in {name}"
    path.write_text(text.replace(old, new, 1))
