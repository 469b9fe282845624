"""Shared fixtures: small, fast settings so the suite fits CI's 2 cores."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from advisor.ruleset import RULE_FILES, default_rules_dir

def pytest_configure(config):
    """The guard's inspection cache (advisor/guard.py) in a folder of this test session, not the user's."""
    import os
    import tempfile

    os.environ.setdefault("MARL_CACHE_DIR", tempfile.mkdtemp(prefix="marl-test-cache-"))


def pytest_collection_modifyitems(items):
    """Everything under tests/learning/ trains for seconds to minutes: the slow tier. Slow tests run first, so
    that with pytest-xdist the long ones start early and the last minutes are spent on short ones, not one
    worker finishing a several-minute test while the other idles."""
    for item in items:
        if "learning" in item.path.parent.name:
            item.add_marker(pytest.mark.slow)
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)  # stable: same order on every worker


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
