"""Parsing the CLI's repeated KEY=VALUE options (`--set`, `--env-kwarg`) into dicts for the library."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from advisor.errors import AdvisorError


def parse_set_options(items: list[str] | None) -> dict[str, str]:
    """['lr=3e-4', 'recurrent=true'] -> {'lr': '3e-4', 'recurrent': 'true'} (coerced later by field type)."""
    out: dict[str, str] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise AdvisorError("bad-set", f"--set '{item}' is not of the form KEY=VALUE", "e.g. --set lr=3e-4")
        out[key.strip()] = value.strip()
    return out


def parse_env_kwargs(items: list[str] | None) -> dict[str, Any]:
    """Turn ['N=5', 'continuous_actions=true', 'local_ratio=0.5'] into typed keyword arguments."""
    kwargs: dict[str, Any] = {}
    for item in items or []:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise AdvisorError("bad-env-kwarg", f"--env-kwarg '{item}' is not of the form KEY=VALUE",
                               "e.g. --env-kwarg N=5 --env-kwarg continuous_actions=true")
        kwargs[key.strip()] = parse_scalar(raw.strip())
    return kwargs


def parse_scalar(raw: str) -> Any:
    """'true' -> True, '5' -> 5, '0.5' -> 0.5, 'none' -> None, anything else stays a string."""
    low = raw.lower()
    if low in ("true", "yes", "on"):
        return True
    if low in ("false", "no", "off"):
        return False
    if low in ("none", "null"):
        return None
    for cast in (int, float):
        try:
            return cast(raw)
        except ValueError:
            pass
    return raw


def check_output_path(path: Path, suffixes: tuple[str, ...], option: str) -> None:
    """Before any work: `path` has one of `suffixes` and its folder exists (or can be made) and is writable."""
    if path.suffix.lower() not in suffixes:
        raise AdvisorError("bad-output", f"{option} must end in {' or '.join(suffixes)}, got '{path.name}'")
    if path.is_dir():
        raise AdvisorError("bad-output", f"{option} {path} is a directory; give a file name")
    folder = path.parent if str(path.parent) else Path(".")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise AdvisorError("bad-output", f"{option}: cannot create the folder {folder} ({err.strerror or err})") from None
    if not os.access(folder, os.W_OK):
        raise AdvisorError("bad-output", f"{option}: the folder {folder} is not writable")
