"""`marl scaffold`: write a starter project (train.py, config.yaml, README.md, tests/test_smoke.py) for one
algorithm and environment, built on the bundled `algorithms` package. Everything is validated and rendered
in memory first; files are written only when all of it succeeded."""
from __future__ import annotations

import dataclasses
import importlib
import types
from pathlib import Path
from string import Template
from typing import Any, Iterable

import yaml

from advisor.errors import AdvisorError
from algorithms import ALGORITHMS, get_entry, make_config
from algorithms.base import check_env_supported, field_docs
from algorithms.core.env_registry import make_vec_env

TEMPLATES = Path(__file__).parent / "templates"

# --standalone: algorithm -> (single-file template, its extra substitutions). CleanRL-style files that need
# only torch, numpy and PettingZoo; other algorithms are too entangled with the shared core to inline.
STANDALONE = {"mappo": ("standalone_mappo.py", {"centralised": "True"}),
              "ippo": ("standalone_mappo.py", {"centralised": "False"}),
              "qmix": ("standalone_qmix.py", {})}


def render_project(algo: str, env_id: str, env_kwargs: dict[str, Any], overrides: dict[str, Any] | None = None,
                   pitfalls: Iterable[Any] = (), standalone: bool = False) -> dict[str, str]:
    """File name -> contents. Raises AdvisorError for an unknown algorithm or env, or a mismatch."""
    entry = get_entry(algo)
    if standalone and algo not in STANDALONE:
        raise AdvisorError("no-standalone", f"--standalone is not available for '{algo}'",
                           f"available for: {', '.join(STANDALONE)}; drop --standalone for a project on the bundled package")
    if standalone and overrides:
        raise AdvisorError("no-standalone", "--set cannot be combined with --standalone",
                           "edit the Args dataclass at the top of the generated train.py instead")
    config = make_config(algo, overrides or {}, source="--set")
    envs = make_vec_env(env_id, env_kwargs, num_envs=1)  # unknown env -> clear error
    try:
        check_env_supported(entry.config_cls, algo, envs.info, ALGORITHMS)
        agents = ", ".join(envs.info.agents)
    finally:
        envs.close()
    docs = field_docs(entry.config_cls)
    fields = "\n".join(f"    # {docs.get(f.name, '')}\n    {f.name}={getattr(config, f.name)!r},"
                       for f in dataclasses.fields(config))
    values = {
        "algo": algo, "env_id": env_id, "env_kwargs": repr(env_kwargs), "agents": agents,
        "config_module": entry.config_cls.__module__, "config_class": entry.config_cls.__name__,
        "config_fields": fields, "summary": entry.summary,
        "pitfalls": _pitfall_text(pitfalls, env_id),
    }
    if standalone:
        template, extra = STANDALONE[algo]
        values.update(env_module=_env_module(env_id), **extra)
        sources = {"train.py": template, "README.md": "README_standalone.md",
                   "tests/test_smoke.py": "tests_test_smoke_standalone.py"}
    else:
        sources = {"train.py": "train.py", "README.md": "README.md", "tests/test_smoke.py": "tests_test_smoke.py"}
    files = {name: Template((TEMPLATES / f"{source}.tmpl").read_text()).substitute(values)
             for name, source in sources.items()}
    files["config.yaml"] = yaml.safe_dump({"algo": algo, "env": env_id, "env_kwargs": env_kwargs,
                                           "config": dataclasses.asdict(config)}, sort_keys=False)
    return files


def _env_module(env_id: str) -> str:
    """The importable module of a `package:env_module` id, which a standalone file imports directly."""
    prefix, _, name = env_id.partition(":")
    try:
        module = importlib.import_module(f"{prefix}.{name}")
    except ImportError:
        module = None
    if not isinstance(module, types.ModuleType) or not hasattr(module, "parallel_env"):
        raise AdvisorError("no-standalone", f"--standalone needs an env module with parallel_env(), got '{env_id}'",
                           "e.g. mpe2:simple_spread_v3; for other envs drop --standalone")
    return f"{prefix}.{name}"


def _pitfall_text(pitfalls: Iterable[Any], env_id: str) -> str:
    lines = [f"- **{p.title}**: {p.advice}" for p in pitfalls]
    if not lines:
        return (f"Run `marl advise --env {env_id}` to see which pitfalls apply to your problem "
                "(or scaffold from it: `marl advise --env ENV --scaffold DIR`).")
    return "\n".join(lines)


def write_project(out: Path, files: dict[str, str], force: bool) -> list[Path]:
    """Write `files` under `out`; refuse a non-empty directory unless `force`."""
    if out.exists() and not out.is_dir():
        raise AdvisorError("scaffold-target", f"{out} is a file, not a directory")
    if out.is_dir() and any(out.iterdir()) and not force:
        raise AdvisorError("scaffold-target", f"{out} is not empty", "choose an empty directory, or pass --force")
    written = []
    for name, text in files.items():
        path = out / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        written.append(path)
    return written
