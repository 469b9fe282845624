"""Fixed policies for the agents that do not learn: `random`, a scripted `package.module:function`, or
`checkpoint:SOURCE` (a run directory written by `marl train`, or a policy file written by `algo.save`).

One object, `Opponents`, acts for the opponent seats of a batched `Step` and returns a full action array
([K, N] discrete, [K, N, action_dim] continuous) whose learner columns are left at zero for the caller.

Scripted heuristics are called once per opponent seat, per env copy, per step in which that seat acts:

    fn(obs: np.ndarray, action_mask: np.ndarray | None, agent: str, rng: np.random.Generator) -> action

- `obs`: the agent's own observation, flattened to its real size (float32, no padding);
- `action_mask`: bool [n_actions] of legal moves when the env has masks (classic games), else None;
- `agent`: the agent's name (e.g. "player_1"), so one function can serve several seats;
- `rng`: the generator to draw any randomness from (seeded, saved in checkpoints: runs stay reproducible);
- returns an int in [0, n_actions) that the mask allows (discrete), or an array of the agent's action
  size inside the Box bounds (continuous). Anything else is an MARLError naming the function.
Turn-based games call it only for the seat whose turn it is. See algorithms/envs/scripted.py for examples.
"""
from __future__ import annotations

import copy
import importlib
from typing import Any, Callable

import numpy as np
import torch

from algorithms.errors import MARLError, did_you_mean
from algorithms.core.seeding import rng_state, set_rng_state
from algorithms.core.vec_env import EnvInfo, Step

SPEC_HELP = "use random, checkpoint:RUN_DIR, or package.module:function (e.g. algorithms.envs.scripted:rps_rock60)"


def parse_opponent_spec(spec: str) -> tuple[str, str]:
    """'random' -> ('random', ''); 'checkpoint:runs/x' -> ('checkpoint', 'runs/x'); 'pkg.mod:fn' -> ('scripted', ...)."""
    spec = str(spec).strip()
    if spec == "random":
        return "random", ""
    kind, sep, target = spec.partition(":")
    if kind == "checkpoint":
        if not target.strip():
            raise MARLError("bad-opponent-spec", "'checkpoint:' needs a run directory or policy file after the colon",
                               "e.g. opponents=checkpoint:runs/single_agent-rps_v2-20250101-120000")
        return "checkpoint", target.strip()
    if sep and kind and target and all(part.isidentifier() for part in kind.split(".")) and target.isidentifier():
        return "scripted", spec
    raise MARLError("bad-opponent-spec", f"unknown opponent spec '{spec}'",
                       did_you_mean(spec, ["random"]) or SPEC_HELP)


def load_function(spec: str) -> Callable[..., Any]:
    """Import `package.module:function` and check that it is callable."""
    module_name, _, name = spec.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as err:
        raise MARLError("bad-opponent", f"opponent '{spec}': cannot import module '{module_name}' ({err})",
                           "is the module on PYTHONPATH (run from your project root, or pip install -e it)?") from None
    if not hasattr(module, name):
        choices = [n for n in dir(module) if not n.startswith("_") and callable(getattr(module, n))]
        raise MARLError("bad-opponent", f"opponent '{spec}': module '{module_name}' has no '{name}'",
                           did_you_mean(name, choices) or f"callables there: {', '.join(choices) or 'none'}")
    fn = getattr(module, name)
    if not callable(fn):
        raise MARLError("bad-opponent", f"opponent '{spec}' is a {type(fn).__name__}, not a function",
                           "it is called as fn(obs, action_mask, agent, rng) -> action")
    return fn


# (env id, env kwargs, algorithm) of a policy file or run directory: registry.load_policy_source, handed down by
# algorithms.make to the algorithms that take checkpoint opponents.
PolicyLoader = Callable[[str], "tuple[str, dict, Any]"]


def load_checkpoint_policy(run_dir: str, info: EnvInfo, load_policy: PolicyLoader | None):
    """The trained algorithm of a run directory or policy file, refused if it was trained on another environment."""
    if load_policy is None:
        raise MARLError("no-policy-loader", "checkpoint opponents are loaded by algorithms built with algorithms.make()")
    # Rebuilding a run seeds the global RNGs and sets torch's thread count: keep ours untouched.
    saved, threads = rng_state(), torch.get_num_threads()
    try:
        env_id, env_kwargs, algo = load_policy(run_dir)
    finally:
        set_rng_state(saved)
        torch.set_num_threads(threads)
    theirs = algo.info  # the full env's description (single_agent's too: it reports every agent)
    if env_id != info.env_id or (theirs.agents, theirs.obs_dim, theirs.action_kind, theirs.action_dim) != (
            info.agents, info.obs_dim, info.action_kind, info.action_dim):
        raise MARLError("opponent-env-mismatch",
                           f"opponent checkpoint {run_dir} was trained on '{env_id}' {env_kwargs or ''}"
                           f"(agents {list(theirs.agents)}), not on this '{info.env_id}' (agents {list(info.agents)})",
                           "use a run trained on the same environment and --env-kwarg settings")
    return algo


class Opponents:
    """Acts for `seats` (agent indices) with one fixed policy; see the module docstring."""

    def __init__(self, spec: str, info: EnvInfo, seats: list[int], seed: int, load_policy: PolicyLoader | None = None):
        self.spec, self.info, self.seats = spec, info, list(seats)
        self.kind, target = parse_opponent_spec(spec)
        self.rng = np.random.default_rng(seed)
        self.fn = load_function(target) if self.kind == "scripted" else None
        self.policy = load_checkpoint_policy(target, info, load_policy) if self.kind == "checkpoint" else None
        self.memory: Any = None  # recurrent state of a checkpoint policy
        self._memory_k: int | None = None  # the number of env copies that memory is for

    def fresh(self, seed: int) -> "Opponents":
        """The same policy with its own RNG and memory (for evaluation beside training); nothing is reloaded."""
        other = copy.copy(self)
        other.rng, other.memory, other._memory_k = np.random.default_rng(seed), None, None
        return other

    # ------------------------------------------------------------------ acting

    def act(self, step: Step) -> np.ndarray:
        info, k = self.info, step.obs.shape[0]
        shape = (k, info.n_agents) if info.action_kind == "discrete" else (k, info.n_agents, info.action_dim)
        actions = np.zeros(shape, np.int64 if info.action_kind == "discrete" else np.float32)
        if self.kind == "random":
            self._random(step, actions)
        elif self.kind == "scripted":
            self._scripted(step, actions)
        else:
            theirs = self._checkpoint(step)
            actions[:, self.seats] = theirs[:, self.seats]
        return actions

    def _random(self, step: Step, actions: np.ndarray) -> None:
        seats = self.seats
        if self.info.action_kind == "discrete":
            # Uniform over the legal actions: random scores, illegal ones pushed below every legal one.
            scores = self.rng.random(step.action_mask[:, seats].shape)
            scores[~step.action_mask[:, seats]] = -1.0
            actions[:, seats] = scores.argmax(-1)
        else:
            low, high = self.info.action_low[seats], self.info.action_high[seats]  # [M, D]
            actions[:, seats] = low + self.rng.random((actions.shape[0], *low.shape)) * (high - low)

    def _scripted(self, step: Step, actions: np.ndarray) -> None:
        info = self.info
        for k in range(actions.shape[0]):
            for i in self.seats:
                if not step.active[k, i]:
                    continue  # not this seat's turn: the env ignores its action
                obs = step.obs[k, i, : info.obs_sizes[i]]
                mask = step.action_mask[k, i, : info.action_sizes[i]] if info.has_action_mask else None
                try:
                    out = self.fn(obs.copy(), None if mask is None else mask.copy(), info.agents[i], self.rng)
                except Exception as err:  # a user's heuristic: report it as theirs, with its message
                    raise MARLError("opponent-failed", f"opponent '{self.spec}' raised {type(err).__name__}: {err}",
                                       "it is called as fn(obs, action_mask, agent, rng) -> action") from err
                actions[k, i] = self._checked(out, i, mask)

    def _checked(self, out: Any, i: int, mask: np.ndarray | None):
        info, agent = self.info, self.info.agents[i]
        if info.action_kind == "discrete":
            ok = isinstance(out, (int, np.integer)) and not isinstance(out, bool) and 0 <= out < info.action_sizes[i]
            if not ok or (mask is not None and not mask[out]):
                raise MARLError("bad-opponent-action",
                                   f"opponent '{self.spec}' returned {out!r} for {agent}",
                                   f"return an int in [0, {info.action_sizes[i]}) that action_mask allows")
            return int(out)
        size = info.action_sizes[i]
        value = np.zeros(info.action_dim, np.float32)
        try:
            arr = np.asarray(out, np.float32).reshape(-1)
        except (TypeError, ValueError):
            arr = np.zeros(0, np.float32)
        low, high = info.action_low[i, :size], info.action_high[i, :size]
        if arr.shape != (size,) or not np.all(np.isfinite(arr)) or np.any(arr < low - 1e-6) or np.any(arr > high + 1e-6):
            raise MARLError("bad-opponent-action", f"opponent '{self.spec}' returned {out!r} for {agent}",
                               f"return {size} floats inside the action Box [{low.tolist()}, {high.tolist()}]")
        value[:size] = arr
        return value

    def _checkpoint(self, step: Step) -> np.ndarray:
        k = step.obs.shape[0]
        if self.memory is None or self._memory_k != k:
            self.memory, self._memory_k = self.policy.initial_memory(k), k
        self.memory = self.policy.reset_memory(self.memory, step.episode_end)
        actions, self.memory = self.policy.act(step, self.memory, deterministic=False)
        return actions

    # ------------------------------------------------------------------ saving and loading

    def state_dict(self) -> dict[str, Any]:
        return {"rng": self.rng.bit_generator.state, "memory": self.memory}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.rng.bit_generator.state = state["rng"]
        self.memory = state["memory"]
        self._memory_k = None if self.memory is None else _batch_size(self.memory)


def _batch_size(memory: Any) -> int:
    first = memory[0] if isinstance(memory, (tuple, list)) else memory
    return int(first.shape[0])
