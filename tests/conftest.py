"""Shared fixtures: small, fast settings so the suite fits CI's 2 cores."""
from __future__ import annotations

import pytest
import torch

SPREAD = "mpe2:simple_spread_v3"
SPREAD_KWARGS = {"N": 3, "local_ratio": 0.5, "max_cycles": 25}


@pytest.fixture(autouse=True)
def _few_threads():
    torch.set_num_threads(1)  # tests run beside each other on 2 cores; one thread each is fastest
    yield
