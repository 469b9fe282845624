"""Checkpoints written atomically (temp file, fsync, rename), so a killed run never leaves half a file."""
from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path
from typing import Any

import torch

from algorithms.errors import MARLError

FORMAT_VERSION = 1


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write `path` whole or not at all, readable as any new file would be (mkstemp's own mode is 0600)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.chmod(tmp, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def save_checkpoint(path: Path, payload: dict[str, Any]) -> None:
    buffer = io.BytesIO()
    torch.save({"format_version": FORMAT_VERSION, **payload}, buffer)
    atomic_write_bytes(path, buffer.getvalue())


def load_checkpoint(path: Path) -> dict[str, Any]:
    """Load a checkpoint; a missing, truncated or foreign file is an MARLError, not a traceback."""
    if not path.is_file():
        raise MARLError("missing-checkpoint", f"no checkpoint at {path}")
    try:
        # weights_only=False: checkpoints hold RNG states and the env snapshot. Only load your own runs.
        payload = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as err:  # torch raises many types for damaged files
        raise MARLError("corrupt-checkpoint", f"checkpoint {path} cannot be read ({type(err).__name__}: {err})",
                           "the file is damaged; a run directory falls back to its previous checkpoint by itself") from None
    if not isinstance(payload, dict) or payload.get("format_version") != FORMAT_VERSION:
        raise MARLError("corrupt-checkpoint", f"{path} is not a MARL Advisor checkpoint (format {FORMAT_VERSION})")
    return payload
