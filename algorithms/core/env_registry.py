"""The one environment registry: env strings such as `mpe2:simple_spread_v3` -> PettingZoo envs and VecEnvs.

Accepted forms (keyword arguments come separately, e.g. from `--env-kwarg N=5`):
- `package:env_module`     e.g. `mpe2:simple_spread_v3`, `pettingzoo.classic:rps_v2`: the module's
                           `parallel_env(**kw)` is used when it has one, else its turn-based `env(**kw)`.
- `package.module:callable` a factory returning a PettingZoo ParallelEnv or AECEnv.
- `PREFIX:name`            a built-in environment listed in BUILTIN_ENVS (e.g. `matrix:climbing`).
- `lbforaging:ID`, `rware:ID`, `gymma:ID` a Gymnasium env with per-agent Tuple spaces (GYMNASIUM_PACKAGES).

`make_vec_env` gives every trainer its batched env: a native simulator where NATIVE_VEC_ENVS has the prefix
(`batched:`), else K PettingZoo copies (core/pettingzoo_vec_env.py).
"""
from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
import sys
import types
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Callable

from pettingzoo.utils.conversions import aec_to_parallel_wrapper, parallel_to_aec_wrapper
from pettingzoo.utils.env import AECEnv, ParallelEnv

from algorithms.core.pettingzoo_vec_env import PettingZooVecEnv
from algorithms.core.vec_env import VecEnv
from algorithms.envs import context_rps, grid_games, gymma, image_obs, ising, matrix_games
from algorithms.envs.mpe import SCENARIOS, make_batched_vec_env, parallel_factory
from algorithms.errors import MARLError, did_you_mean

# Built-in PettingZoo environment families: prefix -> {name: factory(**kwargs)}.
BUILTIN_ENVS: dict[str, dict[str, Callable[..., Any]]] = {
    "matrix": {**matrix_games.GAMES, "context_rps": context_rps.context_rps},
    "grid": dict(grid_games.GAMES),
    "lattice": dict(ising.GAMES),
    "batched": {name: parallel_factory(name) for name in SCENARIOS},
}

# Natively batched simulators: prefix -> builder(name, env_kwargs, num_envs, render_mode) -> VecEnv.
# Every other env string gets K PettingZoo copies.
NATIVE_VEC_ENVS: dict[str, Callable[..., VecEnv]] = {"batched": make_batched_vec_env}

# Gymnasium multi-agent packages (per-agent Tuple spaces, EPyMARL's convention), wrapped by envs/gymma.py:
# `lbforaging:Foraging-8x8-2p-2f-coop-v3` imports the package (which registers its ids) and makes the id.
# `gymma:ID` takes any such Gymnasium id, also in Gymnasium's `module:Id` form.
# Prefix -> the pip package that provides it (named in the hint when it is missing).
GYMNASIUM_PACKAGES: dict[str, str] = {"lbforaging": "lbforaging", "rware": "rware"}
GYMMA_PREFIX = "gymma"

# PettingZoo (1.27) envs that draw the screen their image observations and state() are cut from only when a
# render mode is set: built without one, every observation is the reset frame and the agents play blind.
# They get render_mode="rgb_array" unless the caller asks for another mode (no window opens, nothing is shown).
DRAW_ONLY_WHEN_RENDERING = ("butterfly.pistonball", "butterfly.cooperative_pong")


@dataclass(frozen=True)
class EnvSpec:
    """An env string parsed once: `prefix:name` and its keyword arguments."""

    prefix: str
    name: str
    kwargs: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def parse(cls, env_id: str, kwargs: dict[str, Any] | None = None) -> "EnvSpec":
        prefix, sep, name = env_id.partition(":")
        if not sep or not prefix or not name:
            raise MARLError("unknown-env", f"environment '{env_id}' is not of the form package:name",
                            f"examples: {KNOWN_EXAMPLES}")
        return cls(prefix, name, dict(kwargs or {}))

    @property
    def id(self) -> str:
        return f"{self.prefix}:{self.name}"

    @property
    def native(self) -> bool:
        """Whether it runs on a native batched backend (e.g. `batched:`) rather than PettingZoo copies."""
        return self.prefix in NATIVE_VEC_ENVS

KNOWN_EXAMPLES = "mpe2:simple_spread_v3, pettingzoo.classic:rps_v2, mypackage.envs:make_env"

# PettingZoo envs a native backend simulates step for step (same observations, rewards and kwargs), all copies at once.
NATIVE_EQUIVALENTS = {("mpe2", name): f"batched:{name}" for name in SCENARIOS}


def native_equivalent(env_id: str) -> str | None:
    """The natively batched env with `env_id`'s dynamics bit for bit (`mpe2:X` -> `batched:X`), if there is one."""
    prefix, _, name = env_id.partition(":")
    return NATIVE_EQUIVALENTS.get((prefix, name))


def resolve_env_factory(env_id: str, checked: bool = True) -> Callable[..., Any]:
    """Find the callable that builds `env_id`; raises MARLError('unknown-env') with a hint."""
    spec = EnvSpec.parse(env_id)
    prefix, name = spec.prefix, spec.name
    if prefix == GYMMA_PREFIX or prefix in GYMNASIUM_PACKAGES:
        return gymma.factory(name, None if prefix == GYMMA_PREFIX else prefix, env_id, GYMNASIUM_PACKAGES.get(prefix))
    if prefix in BUILTIN_ENVS:
        family = BUILTIN_ENVS[prefix]
        if name not in family:
            raise MARLError("unknown-env", f"no built-in environment '{env_id}'",
                               did_you_mean(name, family) or f"available: {', '.join(sorted(family))}")
        return family[name]
    target = _import_attr_or_module(prefix, name, env_id)
    if isinstance(target, types.ModuleType):
        if not checked and callable(getattr(target, "raw_env", None)) and callable(getattr(target, "parallel_env", None)):
            return lambda **kwargs: _as_parallel(target.raw_env(**kwargs))
        for attr in ("parallel_env", "env"):
            if callable(getattr(target, attr, None)):
                return getattr(target, attr)
        raise MARLError("unknown-env", f"module '{target.__name__}' has neither parallel_env() nor env()")
    if type(target).__name__ == "DeprecatedModule":  # PettingZoo's stand-in for an old version: name the new one
        try:
            target.env()
        except ImportError as err:
            successor = re.search(r"use (\w+) instead", str(err))
            raise MARLError("deprecated-env", f"'{env_id}' is deprecated: {err}",
                            f"use '{prefix}:{successor.group(1)}'" if successor else None) from None
    if not callable(target):
        raise MARLError("unknown-env", f"'{env_id}' names {type(target).__name__}, not an environment factory")
    return target


def _import_attr_or_module(prefix: str, name: str, env_id: str) -> Any:
    try:
        return importlib.import_module(f"{prefix}.{name}")
    except ModuleNotFoundError as err:
        missing = err.name or ""
        if not f"{prefix}.{name}".startswith(missing):  # the module exists but one of its imports does not
            raise MARLError("env-import-failed", f"importing '{prefix}.{name}' failed: {err}",
                               f"install the missing package '{err.name}'") from err
    try:
        module = importlib.import_module(prefix)
    except ModuleNotFoundError as err:
        raise MARLError("unknown-env", f"unknown environment '{env_id}': no module named '{prefix}'",
                           f"examples: {KNOWN_EXAMPLES}") from err
    if not hasattr(module, name):
        choices = [n for n in dir(module) if not n.startswith("_")]
        if hasattr(module, "__path__"):  # a package: its submodules are env modules not imported yet
            choices += [m.name for m in pkgutil.iter_modules(module.__path__) if not m.name.startswith("_")]
        raise MARLError("unknown-env", f"unknown environment '{env_id}': '{prefix}' has no '{name}'",
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
    kwargs, image_options = image_obs.split_options(dict(env_kwargs or {}))
    image_settings = image_obs.parse_options(env_id, image_options) if image_options else None
    check_env_kwargs(env_id, factory, kwargs)
    if (render_mode is None and "render_mode" not in kwargs
            and any(name in env_id.replace(":", ".") for name in DRAW_ONLY_WHEN_RENDERING)):
        render_mode = "rgb_array"
    if render_mode is not None:
        kwargs["render_mode"] = render_mode
    try:
        env = factory(**kwargs)
    except MARLError:  # the factory's own clear message (gymma: spaces that are not per-agent)
        raise
    except TypeError as err:
        raise MARLError("bad-env-kwarg", f"'{env_id}' rejected its keyword arguments {kwargs}: {err}") from err
    except Exception as err:  # the env's own checks (N=-1, say) or its bugs: one message, not a traceback
        raise MARLError("env-failed", f"'{env_id}' could not be built with {kwargs or 'no keyword arguments'}: "
                                      f"{type(err).__name__}: {err}", "check the --env-kwarg values") from None
    if not isinstance(env, (ParallelEnv, AECEnv)):
        raise MARLError("unknown-env", f"'{env_id}' built a {type(env).__name__}, not a PettingZoo environment")
    if image_settings is not None:  # obs_resize / obs_grayscale / obs_frame_stack (envs/image_obs.py)
        if not isinstance(env, ParallelEnv):
            raise MARLError("bad-env-kwarg", f"'{env_id}' is turn-based: the obs_* image options need a parallel env")
        env = image_obs.ImagePreprocess(env, env_id, *image_settings)
    return env


def env_parameters(env_id: str, factory: Callable[..., Any]) -> dict[str, Any] | None:
    """The keyword arguments `env_id` accepts, name -> default (inspect.Parameter.empty: required), read from
    the module's `raw_env` class where it has one (PettingZoo's `parallel_env` wrappers take **kwargs), else
    from the factory; None when only **kwargs can be seen."""
    prefix, _, name = env_id.partition(":")
    module = sys.modules.get(f"{prefix}.{name}")
    for source in ([module.raw_env] if module is not None and isinstance(getattr(module, "raw_env", None), type)
                   else []) + [factory]:
        try:
            parameters = inspect.signature(source).parameters.values()
        except (TypeError, ValueError):  # builtins and C callables have no signature
            continue
        if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
            continue
        return {p.name: p.default for p in parameters
                if p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)}
    return None


def check_env_kwargs(env_id: str, factory: Callable[..., Any], kwargs: dict[str, Any]) -> None:
    """Refuse keyword arguments `env_id` does not take, and values whose type differs from a bool, int or
    float default (`continuous_actions=flase` would otherwise reach the env as a truthy string)."""
    accepted = env_parameters(env_id, factory)
    if accepted is None:
        return
    for key, value in kwargs.items():
        if key not in accepted:
            names = [n for n in accepted if n != "render_mode"]
            raise MARLError("bad-env-kwarg", f"'{env_id}' takes no keyword argument '{key}'",
                            did_you_mean(key, names) or f"it takes: {', '.join(names) or 'none'}")
        default = accepted[key]
        if isinstance(default, bool):
            ok, expected = isinstance(value, bool), "true or false"
        elif isinstance(default, int):
            ok, expected = isinstance(value, int) and not isinstance(value, bool), "an integer"
        elif isinstance(default, float):
            ok, expected = isinstance(value, (int, float)) and not isinstance(value, bool), "a number"
        else:
            ok, expected = True, ""
        if not ok:
            raise MARLError("bad-env-kwarg", f"'{env_id}': {key}={value!r} is not valid", f"expected {expected} "
                            f"(the default is {default!r})")


def _as_parallel(env):
    if isinstance(env, ParallelEnv):
        return env
    if isinstance(env, parallel_to_aec_wrapper):  # magent2's raw_env: a native parallel env in AEC clothing
        return env.env
    return _LeanAECToParallel(env)


class _LeanAECToParallel(aec_to_parallel_wrapper):
    """PettingZoo's aec_to_parallel without the `last()` it calls before each agent's turn and then discards:
    that call renders the agent's observation, which for image envs (pistonball copies the whole screen per
    observation) is a third of a step. Observations are read once, after the cycle, as PettingZoo does."""

    def step(self, actions):
        env, rewards = self.aec_env, defaultdict(int)
        for agent in env.agents:
            if agent != env.agent_selection:  # the same cycle order PettingZoo's wrapper insists on
                raise AssertionError(f"expected agent {agent}, got {env.agent_selection}: a parallel step needs "
                                     "every agent to act once per cycle")
            env.step(actions[agent])
            for other in env.agents:
                rewards[other] += env.rewards[other]
        terminations, truncations, infos = dict(env.terminations), dict(env.truncations), dict(env.infos)
        observations = {agent: env.observe(agent) for agent in env.agents}
        while env.agents and (env.terminations[env.agent_selection] or env.truncations[env.agent_selection]):
            env.step(None)
        self.agents = env.agents
        return observations, rewards, terminations, truncations, infos


def is_parallel(env) -> bool:
    return isinstance(env, ParallelEnv)


def make_vec_env(env_id: str, env_kwargs: dict | None = None, num_envs: int = 1,
                 render_mode: str | None = None) -> VecEnv:
    """The batched env every trainer, evaluator and benchmark uses for `env_id`."""
    spec = EnvSpec.parse(env_id, env_kwargs)
    if num_envs < 1:
        raise MARLError("bad-num-envs", f"--num-envs must be at least 1, got {num_envs}")
    if spec.native:
        return NATIVE_VEC_ENVS[spec.prefix](spec.name, dict(spec.kwargs), num_envs, render_mode)
    return PettingZooVecEnv(env_id, spec.kwargs, num_envs,
                            lambda: make_env(env_id, spec.kwargs, render_mode, checked=False))
