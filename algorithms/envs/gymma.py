"""Gymnasium multi-agent environments by EPyMARL's "gymma" convention (Level-Based Foraging, Multi-Robot Warehouse),
as PettingZoo ParallelEnvs.

Such an env has Tuple observation and action spaces with one entry per agent, returns a list of rewards (or one
shared reward) and reports its own step limit as termination. `GymmaEnv` turns that into per-agent dicts, a
truncation at the step limit, and action masks in `infos[agent]["action_mask"]`. `factory` finds a Gymnasium id
(importing the package that registers it) and gives a builder whose signature lists the env's keyword arguments,
so the registry's kwarg checks apply. core/env_registry.py says which env strings come here.
"""
from __future__ import annotations

import importlib
import inspect
from enum import Enum
from typing import Any, Callable

import gymnasium
import numpy as np
from gymnasium import spaces
from pettingzoo.utils.env import ParallelEnv

from algorithms.errors import BadEnvOutput, MARLError, did_you_mean

INSTALL_HINT = 'pip install "marl-advisor[envs]"'


class GymmaEnv(ParallelEnv):
    """One Gymnasium env with per-agent Tuple spaces, as a ParallelEnv with agents agent_0..agent_{n-1}.

    `gym_env` is the Gymnasium env. No `state()`: trainers then use the concatenated observations. Pickling
    keeps the whole episode (the Gymnasium env is pickled with it), so a restored copy continues where it was."""

    def __init__(self, env: gymnasium.Env, name: str):
        self.gym_env, self._raw = env, env.unwrapped
        obs_spaces, act_spaces = env.observation_space.spaces, env.action_space.spaces
        self.possible_agents = [f"agent_{i}" for i in range(len(act_spaces))]
        self.agents: list[str] = []
        self.observation_spaces = {a: _float32(s) for a, s in zip(self.possible_agents, obs_spaces)}
        self.action_spaces = dict(zip(self.possible_agents, act_spaces))
        self.render_mode = getattr(env, "render_mode", None)
        self.metadata = {"name": name, "render_modes": list(env.metadata.get("render_modes", [])),
                         "is_parallelizable": True}
        self.step_limit = step_limit(env)
        self.steps = 0

    def observation_space(self, agent: str) -> spaces.Space:
        return self.observation_spaces[agent]

    def action_space(self, agent: str) -> spaces.Space:
        return self.action_spaces[agent]

    def reset(self, seed: int | None = None, options: dict | None = None):
        if _is_lbf(self._raw):
            # LBF spawns players only where the previous episode's players are not: the start would depend on
            # how the last episode ended, not just on the seed and RNG (evaluation compares policies on the
            # same episodes). Forget those positions.
            for player in self._raw.players:
                player.position = None
        obs, info = self.gym_env.reset(seed=seed, options=options)
        self.steps = 0
        self.agents = list(self.possible_agents)
        return self._observations(obs), self._infos(info)

    def step(self, actions: dict[str, Any]):
        # A Tuple env needs an action for every agent at every step.
        joint = tuple(_env_action(self.action_spaces[a], actions[a]) for a in self.possible_agents)
        obs, reward, terminated, truncated, info = self.gym_env.step(joint)
        self.steps += 1
        terminated, truncated = _episode_flag(terminated), _episode_flag(truncated)
        # The env's step limit is a time limit, not an ending: bootstrapping must go on past it.
        if terminated and self.step_limit is not None and self.steps >= self.step_limit and not self.really_ended():
            terminated, truncated = False, True
        n = len(self.possible_agents)
        try:
            rewards = [float(r) for r in reward] if np.ndim(reward) else [float(reward)] * n  # list or one shared
        except (TypeError, ValueError) as err:
            raise BadEnvOutput(f"rewards that are not numbers ({reward!r}: {err})") from None
        if len(rewards) != n:
            raise BadEnvOutput(f"{len(rewards)} rewards for its {n} agents")
        out = (self._observations(obs), dict(zip(self.possible_agents, rewards)),
               {a: terminated for a in self.possible_agents}, {a: truncated for a in self.possible_agents},
               self._infos(info))
        if terminated or truncated:
            self.agents = []
        return out

    def really_ended(self) -> bool:
        """Whether the episode reached a true end (not just the step limit). Known for LBF only: its field holds
        the level of every food item left, so an all-zero field means all food was collected."""
        if _is_lbf(self._raw):
            return not np.any(self._raw.field)
        return False

    def action_masks(self) -> list[np.ndarray] | None:
        """Each agent's legal actions as an int8 array of length n_actions, or None if the env offers none."""
        act_spaces = [self.action_spaces[a] for a in self.possible_agents]
        if not all(isinstance(s, spaces.Discrete) for s in act_spaces):
            return None
        raw, n = self._raw, len(act_spaces)
        valid = getattr(raw, "_valid_actions", None)
        if isinstance(valid, dict) and isinstance(getattr(raw, "players", None), list):
            # LBF: get_valid_actions() is the product of these per-player lists (6**n joint tuples); read the lists.
            legal = [valid[p] for p in raw.players]
        elif callable(getattr(raw, "get_valid_actions", None)):
            joint = raw.get_valid_actions()  # joint tuples, one entry per agent
            legal = [{t[i] for t in joint} for i in range(n)]
        else:
            for method in ("get_avail_actions", "action_masks"):
                if callable(getattr(raw, method, None)):
                    flat = np.asarray(getattr(raw, method)()).reshape(n, -1)
                    return [flat[i, : int(s.n)].astype(np.int8) for i, s in enumerate(act_spaces)]
            return None
        masks = [np.zeros(int(s.n), np.int8) for s in act_spaces]
        for mask, space, actions in zip(masks, act_spaces, legal):
            for action in actions:
                mask[int(getattr(action, "value", action)) - int(space.start)] = 1  # LBF lists Action enums
        return masks

    def _observations(self, obs) -> dict[str, Any]:
        """Box observations as float32 arrays; Tuple and Dict ones as they are (their rows are flattened later)."""
        if len(obs) != len(self.possible_agents):
            raise BadEnvOutput(f"{len(obs)} observations for its {len(self.possible_agents)} agents")
        out = {}
        for agent, o in zip(self.possible_agents, obs):
            if isinstance(self.observation_spaces[agent], spaces.Box):
                try:
                    o = np.asarray(o, np.float32)
                except (TypeError, ValueError) as err:
                    raise BadEnvOutput(f"an observation that is not an array of numbers ({err})", agent) from None
            out[agent] = o
        return out

    def _infos(self, info: dict) -> dict[str, dict]:
        masks = self.action_masks()
        infos = {a: dict(info) for a in self.possible_agents}
        if masks is not None:
            for agent, mask in zip(self.possible_agents, masks):
                infos[agent]["action_mask"] = mask
        return infos

    def render(self):
        # LBF and RWARE take the mode as an argument and ignore their render_mode attribute.
        render = self._raw.render
        if self.render_mode is not None and "mode" in inspect.signature(render).parameters:
            return render(mode=self.render_mode)
        return self.gym_env.render()

    def close(self):
        self.gym_env.close()


def _is_lbf(raw: gymnasium.Env) -> bool:
    return type(raw).__module__.startswith("lbforaging.")


def step_limit(env: gymnasium.Env) -> int | None:
    """The step at which the env reports the end of its episode: Gymnasium's TimeLimit (`spec.max_episode_steps`,
    from the registration or make(max_episode_steps=...)), else LBF's own `_max_episode_steps`, else RWARE's
    `max_steps` (None there means no limit)."""
    spec = getattr(env, "spec", None)
    if spec is not None and spec.max_episode_steps is not None:
        return int(spec.max_episode_steps)
    for attr in ("_max_episode_steps", "max_steps"):
        value = getattr(env.unwrapped, attr, None)
        if isinstance(value, (int, np.integer)) and value > 0:
            return int(value)
    return None


def factory(gym_id: str, package: str | None, env_id: str, pip_name: str | None = None) -> Callable[..., GymmaEnv]:
    """A builder for Gymnasium id `gym_id` (MARLError if the package or the id is missing). `package`: the
    module that registers the id (lbforaging, rware), or None for `gymma:` ids, which may name it themselves
    in Gymnasium's `module:Id` form. `pip_name`: what to install when `package` is missing."""
    if package is None and ":" in gym_id:
        package, gym_id = gym_id.split(":", 1)
    if package is not None:
        _import_package(package, env_id, pip_name)
    spec = _spec(gym_id, package, env_id)
    parameters = _parameters(spec)

    def build(**kwargs: Any) -> GymmaEnv:
        kwargs = {k: _enum_value(env_id, k, v, parameters) for k, v in kwargs.items()}
        env = gymnasium.make(spec.id, disable_env_checker=True, **kwargs)  # its checker warns on list rewards
        obs_space, act_space = env.observation_space, env.action_space
        if not (isinstance(obs_space, spaces.Tuple) and isinstance(act_space, spaces.Tuple)
                and len(obs_space.spaces) == len(act_space.spaces) > 0):
            env.close()
            raise MARLError("unsupported-env", f"'{env_id}' has observation space {_short(obs_space)} and action "
                            f"space {_short(act_space)}, not per-agent Tuples",
                            "gymma envs need Tuple spaces with one entry per agent; single-agent Gymnasium envs "
                            "are not supported here")
        return GymmaEnv(env, env_id)

    build.__signature__ = inspect.Signature(parameters.values())  # read by env_registry.check_env_kwargs
    return build


def _import_package(package: str, env_id: str, pip_name: str | None) -> None:
    try:
        importlib.import_module(package)  # registers its ids with Gymnasium
    except ModuleNotFoundError as err:
        if err.name is None or not (package == err.name or package.startswith(err.name + ".")):
            raise MARLError("env-import-failed", f"importing '{package}' failed: {err}",
                            f"install the missing package '{err.name}'") from err
        hint = f"{INSTALL_HINT} or pip install {pip_name}" if pip_name else \
            f"install the package that provides '{package}'"
        raise MARLError("env-not-installed", f"'{env_id}' needs the '{package}' package, which is not installed",
                        hint) from None


def _spec(gym_id: str, package: str | None, env_id: str):
    try:
        return gymnasium.spec(gym_id)
    except gymnasium.error.Error:
        pass
    root = package.split(".")[0] if package else None
    ids = [i for i, s in gymnasium.registry.items() if root is None or _entry_module(s).split(".")[0] == root]
    where = f"'{package}' has no Gymnasium environment" if package else "no Gymnasium environment"
    hint = did_you_mean(gym_id, ids)
    if hint is None and package is None:
        hint = "ids of lbforaging and rware need their package: lbforaging:ID, rware:ID or gymma:lbforaging:ID"
    elif hint is None:
        hint = f"{len(ids)} ids, e.g. {', '.join(sorted(ids)[:3])}"
    raise MARLError("unknown-env", f"unknown environment '{env_id}': {where} '{gym_id}'", hint)


def _entry_module(spec) -> str:
    entry = spec.entry_point
    return entry.split(":")[0] if isinstance(entry, str) else getattr(entry, "__module__", "")


def _parameters(spec) -> dict[str, inspect.Parameter]:
    """The keyword arguments gymnasium.make takes for `spec`: the env's constructor parameters with the registered
    values as defaults, plus make's own max_episode_steps. Only **kwargs when the constructor cannot be read."""
    keyword = inspect.Parameter.KEYWORD_ONLY
    try:
        creator = spec.entry_point
        if isinstance(creator, str):
            creator = gymnasium.envs.registration.load_env_creator(creator)
        found = list(inspect.signature(creator).parameters.values())
    except (TypeError, ValueError, ImportError, AttributeError):
        found = []
    if not found or any(p.kind is inspect.Parameter.VAR_KEYWORD for p in found):
        return {"kwargs": inspect.Parameter("kwargs", inspect.Parameter.VAR_KEYWORD)}
    out = {p.name: inspect.Parameter(p.name, keyword, default=spec.kwargs.get(p.name, p.default))
           for p in found if p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, keyword)}
    out.setdefault("max_episode_steps", inspect.Parameter("max_episode_steps", keyword,
                                                          default=spec.max_episode_steps))
    return out


def _enum_value(env_id: str, key: str, value: Any, parameters: dict[str, inspect.Parameter]) -> Any:
    """Enum-valued arguments (RWARE's reward_type) by name, e.g. reward_type=global, since the CLI passes strings."""
    default = parameters[key].default if key in parameters else None
    if not isinstance(default, Enum) or not isinstance(value, str):
        return value
    members = type(default).__members__
    if value.upper() not in members:
        raise MARLError("bad-env-kwarg", f"'{env_id}': {key}={value!r} is not valid",
                        f"expected one of: {', '.join(m.lower() for m in members)}")
    return members[value.upper()]


def _env_action(space: spaces.Space, action: Any) -> Any:
    return int(action) if isinstance(space, spaces.Discrete) else np.asarray(action)


def _episode_flag(flag: Any) -> bool:
    # Some Tuple envs report one flag per agent; the episode ends when every agent is done.
    return bool(np.all(flag))


def _float32(space: spaces.Space) -> spaces.Space:
    """Box observation spaces as float32, the dtype GymmaEnv returns."""
    if isinstance(space, spaces.Box) and space.dtype != np.float32:
        return spaces.Box(space.low.astype(np.float32), space.high.astype(np.float32), dtype=np.float32)
    return space


def _short(space: spaces.Space) -> str:
    if isinstance(space, spaces.Box):
        return f"Box{tuple(space.shape)}"
    if isinstance(space, spaces.Tuple):
        return f"Tuple({', '.join(_short(s) for s in space.spaces)})"
    return str(space)
