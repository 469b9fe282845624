"""One-file policies for the Python API (`algo.save(path)`, `algorithms.load(path)`).

The file holds the algorithm id, its config, the env it was trained on and the algorithm's state (networks,
optimisers, normalisers, replay, counters) encoded with tensors, numbers, strings, lists and dicts only, so
it loads with `torch.load(weights_only=True)`: reading a policy file never runs code from it. The env
copies' own state is not saved (it would need pickle): a loaded algorithm starts fresh episodes.
"""
from __future__ import annotations

import dataclasses
import io
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import torch

from algorithms.core.checkpoint import atomic_write_bytes
from algorithms.core.tensors import to_numpy, to_tensor
from algorithms.core.vec_env import Step
from algorithms.errors import MARLError

POLICY_FORMAT = 1  # bump when a file written by this version cannot be read by the previous one
MAGIC = "marl-advisor-policy"

_ARRAY, _BYTES, _STEP = "__ndarray__", "__bytes__", "__step__"


def library_version() -> str:
    try:
        return metadata.version("marl-advisor")
    except metadata.PackageNotFoundError:  # running from a source tree that was never installed
        return "0+source"


def encode(tree: Any, where: str = "state") -> Any:
    """A weights_only-loadable copy of an algorithm's state: arrays and bytes become tagged tensors."""
    if tree is None or isinstance(tree, (bool, int, float, str, torch.Tensor)):
        return tree.detach().cpu().clone() if isinstance(tree, torch.Tensor) else tree
    if isinstance(tree, np.generic):
        return tree.item()
    if isinstance(tree, np.ndarray) and tree.dtype != object:
        return {_ARRAY: to_tensor(np.ascontiguousarray(tree).copy(), "cpu")}
    if isinstance(tree, (bytes, bytearray)):
        return {_BYTES: torch.tensor(list(tree), dtype=torch.uint8)}
    if isinstance(tree, Step):
        return {_STEP: {f.name: encode(getattr(tree, f.name), where) for f in dataclasses.fields(tree)}}
    if isinstance(tree, dict):
        return {key: encode(value, f"{where}[{key!r}]") for key, value in tree.items()}
    if isinstance(tree, (list, tuple)):
        items = [encode(value, f"{where}[{i}]") for i, value in enumerate(tree)]
        return items if isinstance(tree, list) else tuple(items)
    raise MARLError("unsaveable", f"cannot save {where}: a {type(tree).__name__} is not plain data")


def decode(tree: Any) -> Any:
    """The inverse of `encode`."""
    if isinstance(tree, dict):
        if _ARRAY in tree and len(tree) == 1:
            return to_numpy(tree[_ARRAY])
        if _BYTES in tree and len(tree) == 1:
            return bytes(tree[_BYTES].tolist())
        if _STEP in tree and len(tree) == 1:
            return Step(**{key: decode(value) for key, value in tree[_STEP].items()})
        return {key: decode(value) for key, value in tree.items()}
    if isinstance(tree, list):
        return [decode(value) for value in tree]
    if isinstance(tree, tuple):
        return tuple(decode(value) for value in tree)
    return tree


def write_policy(path: str | Path, header: dict[str, Any], state: dict[str, Any]) -> None:
    """Atomically write `header` (algorithm, env, config) and the encoded `state` to `path`."""
    path = Path(path)
    if path.is_dir():
        raise MARLError("bad-output", f"{path} is a directory; give a file name such as policy.pt")
    payload = {"magic": MAGIC, "format": POLICY_FORMAT, "library_version": library_version(), **header,
               "state": encode(state)}
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    try:
        atomic_write_bytes(path, buffer.getvalue())
    except OSError as err:
        raise MARLError("bad-output", f"cannot write {path}: {err.strerror or err}") from None


def read_policy(path: str | Path) -> dict[str, Any]:
    """The header and decoded state of a policy file; a missing, damaged, foreign or incompatible file is a
    MARLError."""
    path = Path(path)
    if not path.is_file():
        raise MARLError("missing-policy", f"no policy file at {path}")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises many types for damaged or foreign files
        raise MARLError("corrupt-policy", f"{path} cannot be read as a policy file ({type(err).__name__})",
                        "was it written by algo.save()? a run directory's checkpoints are read through the directory itself") from None
    if not isinstance(payload, dict) or payload.get("magic") != MAGIC:
        raise MARLError("corrupt-policy", f"{path} is not a MARL Advisor policy file")
    if payload.get("format") != POLICY_FORMAT:
        raise MARLError("incompatible-policy",
                        f"{path} was written by marl-advisor {payload.get('library_version')} in policy format "
                        f"{payload.get('format')}; this is {library_version()}, which reads format {POLICY_FORMAT}",
                        "load it with the version that wrote it")
    env = payload.get("env")
    if (not isinstance(payload.get("algorithm"), str) or not isinstance(payload.get("config"), dict)
            or not isinstance(env, dict) or not {"id", "kwargs", "num_envs"} <= set(env)
            or not isinstance(payload.get("state"), dict)):
        raise MARLError("corrupt-policy", f"{path} is a policy file with parts missing (algorithm, config, env or state)")
    payload["state"] = decode(payload["state"])
    return payload
