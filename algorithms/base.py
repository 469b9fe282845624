"""The two shapes every algorithm has: a typed config dataclass and an Algorithm (learn / act / save / load)."""
from __future__ import annotations

import ast
import dataclasses
import inspect
import textwrap
import typing
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, Callable, ClassVar, Mapping

import numpy as np
import torch

from algorithms.core.action_spaces import env_action
from algorithms.core.observation_rows import single_step
from algorithms.core.policy_file import write_policy
from algorithms.core.vec_env import EnvInfo, Step, VecEnv
from algorithms.errors import MARLError, did_you_mean


@dataclasses.dataclass
class AlgorithmConfig:
    """Base of every algorithm's config. Capabilities are ClassVars, checked against rules/algorithms.yaml."""

    action_spaces: ClassVar[frozenset[str]] = frozenset()    # "discrete", "continuous", "multi_discrete"
    reward_settings: ClassVar[frozenset[str]] = frozenset()  # "cooperative", "competitive", "mixed"
    policy_type: ClassVar[str] = "on-policy"                 # or "off-policy"
    needs_state: ClassVar[bool] = False                      # uses a global state during training
    # Env copies `marl train` steps together when --num-envs is not given: (on a native batched backend such
    # as `batched:`, on PettingZoo copies). Chosen by measurement (docs/defaults.md).
    default_num_envs: ClassVar[tuple[int, int]] = (8, 8)

    def validate(self) -> None:
        """Raise MARLError('bad-config-value', ...) for values that cannot work."""


# Algorithm callbacks receive the metrics of one iteration and return False to stop training early.
Callback = Callable[["Algorithm", dict[str, float]], "bool | None"]


class Algorithm(ABC):
    """An algorithm owns its networks, optimisers, the batched env and its position in training."""

    def __init__(self, config: AlgorithmConfig, envs: VecEnv, device: torch.device):
        self.config, self.envs, self.info, self.device = config, envs, envs.info, device
        self.env_steps = 0   # environment steps taken, summed over copies
        self.iterations = 0  # collect + update cycles done
        self.episodes = 0    # episodes finished during training
        self.algo_id = ""    # the registry id, set by algorithms.make (save() records it)
        self._saving_policy = False  # save(): leave the env copies' pickled state out
        self._predict_memory: Any = None
        request_state = getattr(envs, "request_state", None)
        if request_state is not None:  # an env whose state() is optional (and may raise) is asked only if used
            request_state(self.uses_state())

    def uses_state(self) -> bool:
        """Whether training reads the global state (Step.state); overridden where a config field decides."""
        return type(self.config).needs_state

    # The figure `marl train`'s progress line shows: (label, metrics key). The team mean return by default;
    # competitive learners override it (in a zero-sum game the mean over both seats is always 0).
    progress_metric: tuple[str, str] = ("return", "charts/return_mean")
    # A competitive learner's skill rating (self-play's Elo), reported by competitive evaluation; None otherwise.
    rating: float | None = None

    def policy_agents(self) -> tuple[str, ...]:
        """The agents whose actions come from what this algorithm learns (single_agent: the learner only; its
        opponents play their fixed policies in predict and act)."""
        return self.info.agents

    def evaluation_opponents(self, last: int | None = None) -> dict[str, tuple[float, Callable[[Step], np.ndarray]]]:
        """Opponents the algorithm itself brings to competitive evaluation: name -> (rating, batched policy).
        Self-play returns its pool (only the `last` most recent members if given); others have none."""
        return {}

    @abstractmethod
    def learn(self, total_steps: int, callback: Callback | None = None) -> None:
        """Train until `env_steps >= total_steps`, calling `callback` after every iteration."""

    @abstractmethod
    def begin(self, first: Step) -> None:
        """Start collecting experience from `first`, the result of `envs.reset(seed)`."""

    @abstractmethod
    def has_env_position(self) -> bool:
        """Whether the algorithm holds a current env observation (restored from a checkpoint, say)."""

    @abstractmethod
    def act(self, step: Step, memory: Any, deterministic: bool) -> tuple[np.ndarray, Any]:
        """Actions for a batched observation; `memory` is recurrent state (None for feed-forward)."""

    def initial_memory(self, num_envs: int) -> Any:
        return None

    def reset_memory(self, memory: Any, episode_end: np.ndarray) -> Any:
        """Zero the recurrent state of copies whose episode just ended ([K] bool)."""
        return memory

    def memory_after(self, step: Step, executed: np.ndarray, memory: Any) -> Any:
        """The memory `act` returned, rebuilt for the actions that were really executed at `step` when someone
        else replaced some of them (`marl credit`'s baseline agents). Only memories built from the chosen
        actions change (MF-Q's neighbours' mean action); a recurrent state depends on observations alone."""
        return memory

    @abstractmethod
    def state_dict(self) -> dict:
        """Everything needed to continue training: networks, optimisers, counters, env position."""

    @abstractmethod
    def load_state_dict(self, state: dict) -> None: ...

    def save_position(self, collector_state: dict[str, Any]) -> dict[str, Any]:
        """Counters, and the env copies' state with what the collection loop holds mid-episode
        (`collector_state`, e.g. the last observation), so a resumed run continues exactly.
        Without an env snapshot (unpicklable env) only the counters are kept."""
        snapshot = None if self._saving_policy else getattr(self.envs, "snapshot", lambda: None)()
        return {"counters": {"env_steps": self.env_steps, "iterations": self.iterations, "episodes": self.episodes},
                "env": {"snapshot": snapshot, "collector": collector_state if snapshot is not None else None}}

    def load_position(self, state: dict[str, Any]) -> dict[str, Any] | None:
        """Restore what save_position saved; returns the collector state, or None when the envs
        could not be restored (the caller then starts fresh episodes)."""
        counters = state["counters"]
        self.env_steps, self.iterations, self.episodes = (counters["env_steps"], counters["iterations"],
                                                          counters["episodes"])
        env_state = state["env"]
        if env_state["snapshot"] is None or not hasattr(self.envs, "restore"):
            return None
        self.envs.restore(env_state["snapshot"])
        return env_state["collector"]


    # ------------------------------------------------------------------ the Python API

    def save(self, path: str | Path) -> None:
        """Write one file: the algorithm id, config, env (id, keyword arguments, copies), library version and
        the full learning state (networks, optimisers, replay, counters). `algorithms.load(path)` reads it."""
        if not self.algo_id:
            raise MARLError("unsaveable", "this algorithm was not built by algorithms.make(), so its id is unknown")
        self._saving_policy = True
        try:
            state = self.state_dict()
        finally:
            self._saving_policy = False
        env = {"id": self.info.env_id, "kwargs": dict(getattr(self.envs, "env_kwargs", {}) or {}),
               "num_envs": self.envs.num_envs}
        write_policy(path, {"algorithm": self.algo_id, "config": config_to_dict(self.config), "env": env}, state)

    def predict(self, observation: Mapping[str, Any] | Any, deterministic: bool = True, *, agent: str | None = None,
                state: Any = None, episode_start: bool = False, infos: Mapping[str, Any] | None = None
                ) -> dict[str, Any] | Any:
        """Actions for one un-batched PettingZoo env, as the user's own loop sees it.

        Parallel envs: `observation` is the dict agent -> observation that reset()/step() returned; the result
        is a dict agent -> action for those agents. Turn-based (AEC) envs: pass the current agent's observation
        (with its action mask, as env.last() gives it) and `agent=env.agent_selection`; the result is that
        agent's action. Recurrent policies keep their memory between calls: pass `episode_start=True` on the
        first observation of each episode. `state` is env.state(), needed only by Nash-Q on envs whose state
        is not the observations. `infos` is the info dict reset()/step() returned: envs that give action masks
        there (`info[agent]["action_mask"]`: LBF, RWARE) need it, or masked-out actions can be chosen."""
        observations = {agent: observation} if agent is not None else observation
        if not isinstance(observations, Mapping):
            raise MARLError("bad-observation", "predict() takes the dict agent -> observation of a parallel env",
                            "for a turn-based env pass one observation and agent=env.agent_selection")
        if agent is not None and infos is not None and agent not in infos:
            infos = {agent: infos}  # a turn-based env's info for the acting agent alone
        step = single_step(self.info, observations, state, acting=agent, infos=infos)
        if episode_start or self._predict_memory is None:
            self._predict_memory = self.initial_memory(1)
        actions, self._predict_memory = self.act(step, self._predict_memory, deterministic)
        index = {name: i for i, name in enumerate(self.info.agents)}
        # Each agent's action as its env takes it: an int, the unpadded Box vector, or (MultiDiscrete, MultiBinary)
        # an array of the component values in the space's dtype.
        out = {name: env_action(self.info, index[name], np.asarray(actions)[0, index[name]]) for name in observations}
        return out[agent] if agent is not None else out


# ---------------------------------------------------------------------------------------------------
# Config fields: docstrings, overrides from YAML or --set, with errors that list the valid keys


def field_docs(config_cls: type) -> dict[str, str]:
    """The one-line docstring under each field of a config dataclass (and its bases), by field name."""
    docs: dict[str, str] = {}
    for cls in reversed(config_cls.__mro__):
        if not dataclasses.is_dataclass(cls) or cls is object:
            continue
        tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
        body = tree.body[0].body  # type: ignore[attr-defined]
        for node, after in zip(body, body[1:]):
            if (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)
                    and isinstance(after, ast.Expr) and isinstance(after.value, ast.Constant)
                    and isinstance(after.value.value, str)):
                docs[node.target.id] = " ".join(after.value.value.split())
    return docs


def config_to_dict(config: AlgorithmConfig) -> dict[str, Any]:
    return dataclasses.asdict(config)


def apply_overrides(config: AlgorithmConfig, overrides: dict[str, Any], source: str = "--set") -> AlgorithmConfig:
    """A copy of `config` with `overrides` applied after checking each key and coercing each value."""
    hints = typing.get_type_hints(type(config))
    names = [f.name for f in dataclasses.fields(config)]
    changes = {}
    for key, value in overrides.items():
        if key not in names:
            hint = did_you_mean(key, names)
            raise MARLError("unknown-config-key", f"{source}: '{key}' is not a {type(config).__name__} field",
                               f"{hint + ' ' if hint else ''}valid keys: {', '.join(names)}")
        changes[key] = _coerce(value, hints[key], key, source)
    new = dataclasses.replace(config, **changes)
    new.validate()
    return new


def _coerce(value: Any, kind: Any, key: str, source: str) -> Any:
    def bad() -> MARLError:
        name = getattr(kind, "__name__", str(kind))
        return MARLError("bad-config-value", f"{source}: '{key}' must be {name}, got {value!r}")

    if kind is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false", "1", "0", "yes", "no"):
            return value.lower() in ("true", "1", "yes")
        raise bad()
    if kind is int:
        if isinstance(value, bool):
            raise bad()
        try:
            as_float = float(value)
        except (TypeError, ValueError):
            raise bad() from None
        if not as_float.is_integer():
            raise bad()
        return int(as_float)
    if kind is float:
        if isinstance(value, bool):
            raise bad()
        try:
            return float(value)
        except (TypeError, ValueError):
            raise bad() from None
    if kind is str:
        return str(value)
    raise bad()


def check_env_supported(config_cls: type[AlgorithmConfig], algo_id: str, info: EnvInfo,
                        registry: dict[str, Any]) -> None:
    """Refuse an environment whose action space the algorithm cannot handle, naming ones that can."""
    if info.action_kind in config_cls.action_spaces:
        return
    able = sorted(a for a, entry in registry.items() if info.action_kind in entry.config_cls.action_spaces)
    raise MARLError("unsupported-action-space",
                       f"'{algo_id}' cannot train on {info.action_kind} actions ('{info.env_id}')",
                       f"algorithms that can: {', '.join(able) or 'none bundled yet'}")


def require_two_players(algo_id: str, info: EnvInfo, hint: str) -> None:
    """Refuse a game that does not have exactly two players (self-play, Nash-Q)."""
    if info.n_agents != 2:
        raise MARLError("not-two-player", f"'{algo_id}' needs a game of exactly two players; '{info.env_id}' has "
                           f"{info.n_agents} agents ({', '.join(info.agents)})", hint)


def require_positive(config: AlgorithmConfig, *names: str) -> None:
    for name in names:
        if getattr(config, name) <= 0:
            raise MARLError("bad-config-value", f"'{name}' must be positive, got {getattr(config, name)}")


def require_non_negative(config: AlgorithmConfig, *names: str) -> None:
    for name in names:
        if getattr(config, name) < 0:
            raise MARLError("bad-config-value", f"'{name}' must be >= 0, got {getattr(config, name)}")


def require_unit_interval(config: AlgorithmConfig, *names: str) -> None:
    for name in names:
        if not 0.0 <= getattr(config, name) <= 1.0:
            raise MARLError("bad-config-value", f"'{name}' must lie in [0, 1], got {getattr(config, name)}")


def require_choice(config: AlgorithmConfig, name: str, choices: typing.Iterable[str]) -> None:
    value, choices = getattr(config, name), tuple(choices)
    if value not in choices:
        raise MARLError("bad-config-value", f"'{name}' must be one of {', '.join(choices)}, got {value!r}")
