"""NumPy <-> torch goes through algorithms.core.tensors, with the device named at every crossing.

No GPU runs these tests in CI, so device bugs (a CPU tensor meeting a CUDA one) are caught three ways:
the helper honours any device (checked on the "meta" device, which exists without a GPU); a scan of the
source refuses conversions that bypass it; and the two paths that used to break on CUDA (MADDPG's
final-observation bootstrap, CommNet's message dump) are run with the helper spied on, checking every
crossing names the algorithm's device. The same tests run on CUDA too when a GPU is present.
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch

import algorithms.training.commnet_messages as commnet_module
import algorithms.maddpg as maddpg_module
from algorithms import make
from algorithms.training.commnet_messages import dump_messages
from algorithms.core.tensors import to_numpy, to_tensor
from algorithms.core.env_registry import make_vec_env
from tests.helpers import SPREAD, SPREAD_KWARGS

ROOT = Path(__file__).resolve().parents[1]
DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="no GPU"))]


# ------------------------------------------------------------------ the helper


def test_to_tensor_keeps_the_numpy_dtype_unless_told_otherwise():
    assert to_tensor(np.zeros(3, np.float32), "cpu").dtype == torch.float32
    assert to_tensor(np.zeros(3, bool), "cpu").dtype == torch.bool
    assert to_tensor(np.arange(3), "cpu").dtype == torch.int64
    assert to_tensor(np.arange(3), "cpu", torch.float32).dtype == torch.float32
    assert to_tensor(np.zeros(3, bool), "cpu", torch.float32).tolist() == [0.0, 0.0, 0.0]


def test_to_tensor_takes_scalars_sequences_and_tensors():
    assert to_tensor(2.5, "cpu").shape == () and to_tensor(2.5, "cpu").item() == 2.5
    assert to_tensor([0, 2, 1], "cpu", torch.long).tolist() == [0, 2, 1]
    t = torch.ones(2)
    assert to_tensor(t, "cpu") is t  # already there: no copy


@pytest.mark.parametrize("device", [torch.device("meta"), "meta"])
def test_to_tensor_puts_the_result_on_the_device_it_is_given(device):
    # "meta" is a device other than the CPU that exists on every machine: a stand-in for CUDA here.
    assert to_tensor(np.arange(3.0), device).device.type == "meta"
    assert to_tensor(torch.ones(2), device, torch.float16).device.type == "meta"
    assert to_tensor(True, device).device.type == "meta"


def test_to_numpy_takes_a_tensor_that_requires_grad():
    w = torch.tensor([1.0, -2.0], requires_grad=True)
    out = to_numpy(w * 2)
    assert isinstance(out, np.ndarray) and out.dtype == np.float32
    np.testing.assert_array_equal(out, [2.0, -4.0])


@pytest.mark.parametrize("device", DEVICES)
def test_round_trip_keeps_values_shape_and_dtype(device):
    for a in (np.random.default_rng(0).normal(size=(2, 3, 4)).astype(np.float32), np.array([True, False]),
              np.arange(6, dtype=np.int64).reshape(2, 3)):
        t = to_tensor(a, device)
        assert t.device.type == torch.device(device).type
        back = to_numpy(t)
        assert back.dtype == a.dtype and back.shape == a.shape
        np.testing.assert_array_equal(back, a)


# ------------------------------------------------------------------ no conversion bypasses the helper

BYPASS = re.compile(r"torch\.as_tensor\(|torch\.from_numpy\(|\.numpy\(\)")
HELPER = "algorithms/core/tensors.py"


def _bypasses(rel: str) -> list[str]:
    lines = (ROOT / rel).read_text().splitlines()
    return [f"{rel}:{i}: {line.strip()}" for i, line in enumerate(lines, 1) if BYPASS.search(line)]


def test_no_numpy_torch_conversion_bypasses_the_helper():
    sources = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "algorithms").rglob("*.py"))
    found = [hit for rel in sources if rel != HELPER for hit in _bypasses(rel)]
    assert not found, ("convert with algorithms.core.tensors.to_tensor(x, device) / to_numpy(t) instead:\n"
                       + "\n".join(found))


# ------------------------------------------------------------------ the paths that broke on CUDA


class Spy:
    """Wraps the helper as a module sees it, recording every call."""

    def __init__(self, fn):
        self.fn, self.calls = fn, []

    def __call__(self, x, *args, **kwargs):
        self.calls.append((x, args, kwargs))
        return self.fn(x, *args, **kwargs)


@pytest.mark.parametrize("device", DEVICES)
def test_maddpg_stores_final_observations_through_the_helper_on_its_device(device, monkeypatch):
    torch.manual_seed(0)
    envs = make_vec_env(SPREAD, {**SPREAD_KWARGS, "continuous_actions": True, "max_cycles": 5}, num_envs=2)
    algo = make("maddpg", envs, device=device, train_every=16, batch_size=32, learning_starts=0)
    to_tensor_spy, to_numpy_spy = Spy(to_tensor), Spy(to_numpy)
    monkeypatch.setattr(maddpg_module, "to_tensor", to_tensor_spy)
    monkeypatch.setattr(maddpg_module, "to_numpy", to_numpy_spy)
    steps = []  # what the env returned, to find its final observations among the helper's inputs
    env_step = envs.step
    monkeypatch.setattr(envs, "step", lambda actions: steps.append(env_step(actions)) or steps[-1])

    algo.begin(envs.reset(seed=0))
    for _ in range(2):  # 2 x 8 steps of 2 copies; episodes of 5 steps end at steps 4, 9 and 14
        algo.collect()
        losses = algo.update()
    assert all(np.isfinite(v) for v in losses.values())

    assert all(args == (algo.device,) and not kwargs for _, args, kwargs in to_tensor_spy.calls)
    assert len(to_numpy_spy.calls) == len(steps) == 16  # actions went to the env through the helper
    converted = {id(x) for x, _, _ in to_tensor_spy.calls}
    ended = [(s, nxt) for s, nxt in enumerate(steps) if nxt.episode_end.any()]
    assert [s for s, _ in ended] == [4, 9, 14]
    for s, nxt in ended:
        assert id(nxt.final_obs) in converted and id(nxt.final_state) in converted
        for k in np.nonzero(nxt.episode_end)[0]:  # the replay's row for (step s, copy k) bootstraps from it
            np.testing.assert_array_equal(to_numpy(algo.replay.data["next_obs"][2 * s + k]), nxt.final_obs[k])
    assert {t.device.type for t in algo.replay.data.values()} == {torch.device(device).type}


@pytest.mark.parametrize("device", DEVICES)
def test_commnet_message_dump_leaves_the_device_through_the_helper(device, tmp_path, monkeypatch):
    env_id = "mpe2:simple_speaker_listener_v4"
    torch.manual_seed(0)
    algo = make("commnet", make_vec_env(env_id, {}, num_envs=2), device=device, comm_steps=2, hidden_size=16)
    to_tensor_spy, to_numpy_spy = Spy(to_tensor), Spy(to_numpy)
    monkeypatch.setattr(commnet_module, "to_tensor", to_tensor_spy)
    monkeypatch.setattr(commnet_module, "to_numpy", to_numpy_spy)

    summary = dump_messages(algo, env_id, {}, episodes=2, seed=0, path=tmp_path / "m.npz")
    data = np.load(tmp_path / "m.npz")

    assert summary["steps"] == 50 and data["sent"].shape == (50, 2, 2, 16)
    assert all(args[0] == algo.device for _, args, _ in to_tensor_spy.calls)
    # Per step: sent, received, the recorded action and the env action all come off the device.
    assert len(to_numpy_spy.calls) == 4 * 50
    assert {x.device.type for x, _, _ in to_numpy_spy.calls} == {torch.device(device).type}
    np.testing.assert_allclose(data["received"][:, 1], data["sent"][:, 0], atol=1e-6)
