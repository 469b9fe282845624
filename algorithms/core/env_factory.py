"""Open a PettingZoo environment from a string such as `mpe2:simple_spread_v3`.

Accepted forms (keyword arguments come separately, e.g. from `--env-kwarg N=5`):
- `package:env_module`     e.g. `mpe2:simple_spread_v3`, `pettingzoo.classic:rps_v2`: the module's
                           `parallel_env(**kw)` is used when it has one, else its turn-based `env(**kw)`.
- `package.module:callable` a factory returning a PettingZoo ParallelEnv or AECEnv.
- `PREFIX:name`            a built-in environment registered in BUILTIN_ENVS (e.g. `matrix:climbing`).
"""
from __future__ import annotations

import importlib
import types
from typing import Any, Callable

from pettingzoo.utils.conversions import aec_to_parallel
from pettingzoo.utils.env import AECEnv, ParallelEnv

from advisor.errors import AdvisorError, did_you_mean

# Built-in environment families: prefix -> {name: factory(**kwargs)}. Filled by algorithms.envs modules.
BUILTIN_ENVS: dict[str, dict[str, Callable[..., Any]]] = {}

KNOWN_EXAMPLES = "mpe2:simple_spread_v3, pettingzoo.classic:rps_v2, mypackage.envs:make_env"


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


def resolve_env_factory(env_id: str, checked: bool = True) -> Callable[..., Any]:
    """Find the callable that builds `env_id`; raises AdvisorError('unknown-env') with a hint."""
    prefix, sep, name = env_id.partition(":")
    if not sep or not prefix or not name:
        raise AdvisorError("unknown-env", f"environment '{env_id}' is not of the form package:name",
                           f"examples: {KNOWN_EXAMPLES}")
    import algorithms.envs  # noqa: F401  lazily: registers the built-in families (matrix:...) in BUILTIN_ENVS
    if prefix in BUILTIN_ENVS:
        family = BUILTIN_ENVS[prefix]
        if name not in family:
            raise AdvisorError("unknown-env", f"no built-in environment '{env_id}'",
                               did_you_mean(name, family) or f"available: {', '.join(sorted(family))}")
        return family[name]
    target = _import_attr_or_module(prefix, name, env_id)
    if isinstance(target, types.ModuleType):
        if not checked and callable(getattr(target, "raw_env", None)) and callable(getattr(target, "parallel_env", None)):
            return lambda **kwargs: _as_parallel(target.raw_env(**kwargs))
        for attr in ("parallel_env", "env"):
            if callable(getattr(target, attr, None)):
                return getattr(target, attr)
        raise AdvisorError("unknown-env", f"module '{target.__name__}' has neither parallel_env() nor env()")
    if not callable(target):
        raise AdvisorError("unknown-env", f"'{env_id}' names {type(target).__name__}, not an environment factory")
    return target


def _import_attr_or_module(prefix: str, name: str, env_id: str) -> Any:
    try:
        return importlib.import_module(f"{prefix}.{name}")
    except ModuleNotFoundError as err:
        missing = err.name or ""
        if not f"{prefix}.{name}".startswith(missing):  # the module exists but one of its imports does not
            raise AdvisorError("env-import-failed", f"importing '{prefix}.{name}' failed: {err}",
                               f"install the missing package '{err.name}'") from err
    try:
        module = importlib.import_module(prefix)
    except ModuleNotFoundError as err:
        raise AdvisorError("unknown-env", f"unknown environment '{env_id}': no module named '{prefix}'",
                           f"examples: {KNOWN_EXAMPLES}") from err
    if not hasattr(module, name):
        choices = [n for n in dir(module) if not n.startswith("_")]
        raise AdvisorError("unknown-env", f"unknown environment '{env_id}': '{prefix}' has no '{name}'",
                           did_you_mean(name, choices))
    return getattr(module, name)


def make_env(env_id: str, env_kwargs: dict[str, Any] | None = None, render_mode: str | None = None,
             checked: bool = True):
    """Build one PettingZoo environment (ParallelEnv or AECEnv) from its string id and keyword arguments.

    checked=False skips PettingZoo's input-checking wrappers (order enforcing, action bounds) for module
    ids that ship a `raw_env`: they cost about a third of an MPE step, and our trainers only send actions
    that are in bounds by construction. Nothing else about the environment changes.
    """
    factory = resolve_env_factory(env_id, checked)
    kwargs = dict(env_kwargs or {})
    if render_mode is not None:
        kwargs["render_mode"] = render_mode
    try:
        env = factory(**kwargs)
    except TypeError as err:
        raise AdvisorError("bad-env-kwarg", f"'{env_id}' rejected its keyword arguments {kwargs}: {err}") from err
    if not isinstance(env, (ParallelEnv, AECEnv)):
        raise AdvisorError("unknown-env", f"'{env_id}' built a {type(env).__name__}, not a PettingZoo environment")
    return env


def _as_parallel(env):
    return env if isinstance(env, ParallelEnv) else aec_to_parallel(env)


def is_parallel(env) -> bool:
    return isinstance(env, ParallelEnv)
