"""K copies of any PettingZoo environment behind the batched VecEnv interface (core/vec_env.py).

Turn-based (AEC) games go through `TurnBasedAdapter`: every agent is observed at every step, but only
the agent whose turn it is has `active` set; the others' actions are ignored and kept out of the policy loss.
"""
from __future__ import annotations

import io
import pickle
import sys
from typing import Any, Callable

import numpy as np
from gymnasium import spaces
from gymnasium.utils import EzPickle
from pettingzoo.utils.env import ParallelEnv

from algorithms.core.observation_rows import blank_rows, concatenated_state, write_obs
from algorithms.core.vec_env import EnvInfo, Step
from algorithms.errors import MARLError

# ---------------------------------------------------------------------------------------------------
# Space helpers


def _obs_space(space: spaces.Space) -> spaces.Space:
    if isinstance(space, spaces.Dict) and "observation" in space.spaces:
        return space["observation"]
    return space


def _flat_size(space: spaces.Space) -> int:
    return int(spaces.flatdim(space)) if not isinstance(space, spaces.Box) else int(np.prod(space.shape))


def describe(env, env_id: str, turn_based: bool) -> EnvInfo:
    agents = tuple(env.possible_agents)
    obs_spaces = [env.observation_space(a) for a in agents]
    act_spaces = [env.action_space(a) for a in agents]
    obs_sizes = tuple(_flat_size(_obs_space(s)) for s in obs_spaces)
    has_mask = any(isinstance(s, spaces.Dict) and "action_mask" in s.spaces for s in obs_spaces)
    if all(isinstance(s, spaces.Discrete) for s in act_spaces):
        kind, sizes = "discrete", tuple(int(s.n) for s in act_spaces)
    elif all(isinstance(s, spaces.Box) and len(s.shape) == 1 for s in act_spaces):
        kind, sizes = "continuous", tuple(int(s.shape[0]) for s in act_spaces)
    else:
        names = sorted({type(s).__name__ for s in act_spaces})
        raise MARLError("unsupported-action-space", f"'{env_id}' has action spaces {names}",
                           "supported: Discrete for every agent, or 1-D Box for every agent")
    width = max(sizes)
    low = np.zeros((len(agents), width), np.float32)
    high = np.zeros((len(agents), width), np.float32)
    if kind == "continuous":
        for i, s in enumerate(act_spaces):
            if not (np.all(np.isfinite(s.low)) and np.all(np.isfinite(s.high))):
                raise MARLError("unsupported-action-space", f"'{env_id}' has an unbounded Box action space",
                                   "policies squash actions into the Box bounds, which must be finite")
            low[i, : sizes[i]], high[i, : sizes[i]] = s.low, s.high
    state_dim, source = sum(obs_sizes), "concatenated observations"
    try:
        state_dim, source = int(np.asarray(env.state()).size), "env.state()"
    except (NotImplementedError, TypeError, AttributeError):
        pass
    return EnvInfo(env_id, agents, max(obs_sizes), obs_sizes, state_dim, source, kind, width, sizes,
                   low, high, turn_based, has_mask)


def _state_is_concatenated_obs(env) -> bool:
    """mpe2's SimpleEnv.state() is, by its definition, every agent's observation concatenated in
    possible_agents order (and MPE agents never leave early): reuse the observations of the step
    instead of computing them all a second time (about 12% of an MPE step)."""
    try:
        from mpe2._mpe_utils.simple_env import SimpleEnv
    except ImportError:
        return False
    raw = getattr(env, "unwrapped", env)
    return isinstance(raw, SimpleEnv) and type(raw).state is SimpleEnv.state


# ---------------------------------------------------------------------------------------------------
# One PettingZoo environment, adapted to fixed-size arrays


class _Adapter:
    """Shared bookkeeping: converts per-agent dicts into padded rows for one environment copy."""

    def __init__(self, env, info: EnvInfo):
        self.env, self.info = env, info
        self.index = {a: i for i, a in enumerate(info.agents)}
        self.returns = np.zeros(info.n_agents, np.float64)
        self.length = 0
        self.state_from_obs = info.state_source != "env.state()" or _state_is_concatenated_obs(env)

    def _state(self, obs_row: np.ndarray) -> np.ndarray:
        if not self.state_from_obs:
            return np.asarray(self.env.state(), np.float32).reshape(-1)
        return concatenated_state(self.info, obs_row)

    def _env_action(self, i: int, action: np.ndarray):
        if self.info.action_kind == "discrete":
            return int(action)
        return np.asarray(action[: self.info.action_sizes[i]], np.float32)

    def _blank(self):
        return blank_rows(self.info)

    def _write_obs(self, agent: str, raw: Any, obs_row: np.ndarray, mask_row: np.ndarray) -> None:
        write_obs(self.info, self.index[agent], raw, obs_row, mask_row)


class ParallelAdapter(_Adapter):
    """A PettingZoo ParallelEnv: every live agent acts at every step."""

    def reset(self, seed: int | None):
        observations, _ = self.env.reset(seed=seed)
        self.returns[:] = 0.0
        self.length = 0
        return self._rows(observations)

    def _rows(self, observations: dict):
        obs, mask = self._blank()
        alive = np.zeros(self.info.n_agents, bool)
        for agent, raw in observations.items():
            self._write_obs(agent, raw, obs, mask)
            alive[self.index[agent]] = agent in self.env.agents
        return obs, self._state(obs), mask, alive, alive.copy()

    def step(self, actions: np.ndarray):
        live = list(self.env.agents)
        observations, rewards, terms, truncs, _ = self.env.step(
            {a: self._env_action(self.index[a], actions[self.index[a]]) for a in live})
        n = self.info.n_agents
        reward, term, trunc = np.zeros(n, np.float32), np.zeros(n, bool), np.zeros(n, bool)
        for agent in live:
            i = self.index[agent]
            reward[i], term[i], trunc[i] = rewards.get(agent, 0.0), terms.get(agent, False), truncs.get(agent, False)
        self.returns += reward
        self.length += 1
        rows = self._rows(observations)
        done = not self.env.agents
        return rows, reward, term, trunc, done


class TurnBasedAdapter(_Adapter):
    """A PettingZoo AECEnv: one agent acts per step; every agent's reward for that step is reported."""

    def reset(self, seed: int | None):
        self.env.reset(seed=seed)
        self.returns[:] = 0.0
        self.length = 0
        return self._rows()

    def _rows(self):
        obs, mask = self._blank()
        alive = np.zeros(self.info.n_agents, bool)
        for agent in self.env.agents:
            self._write_obs(agent, self.env.observe(agent), obs, mask)
            alive[self.index[agent]] = True
        active = np.zeros_like(alive)
        if self.env.agents:
            active[self.index[self.env.agent_selection]] = True
        return obs, self._state(obs), mask, active, alive

    def step(self, actions: np.ndarray):
        env, n = self.env, self.info.n_agents
        actor = env.agent_selection
        env.step(self._env_action(self.index[actor], actions[self.index[actor]]))
        reward, term, trunc = np.zeros(n, np.float32), np.zeros(n, bool), np.zeros(n, bool)
        for agent, r in env.rewards.items():
            reward[self.index[agent]] = r
        for agent in env.agents:
            term[self.index[agent]] = env.terminations[agent]
            trunc[self.index[agent]] = env.truncations[agent]
        rows = self._rows()  # the final observation, taken before finished agents are removed
        # Finished agents must be stepped with None before the game moves on (PettingZoo's AEC contract).
        while env.agents and (env.terminations[env.agent_selection] or env.truncations[env.agent_selection]):
            env.step(None)
        self.returns += reward
        self.length += 1
        done = not env.agents
        if not done and (term.any() or trunc.any()):
            rows = self._rows()
        return rows, reward, term, trunc, done


# ---------------------------------------------------------------------------------------------------
# K copies in one process


class PettingZooVecEnv:
    """K copies of a PettingZoo environment stepped in one process, with auto-reset."""

    def __init__(self, env_id: str, env_kwargs: dict | None, num_envs: int, make_one: Callable[[], Any]):
        """`make_one()` builds one copy (env_registry.make_vec_env passes the factory for `env_id`)."""
        if num_envs < 1:
            raise MARLError("bad-num-envs", f"--num-envs must be at least 1, got {num_envs}")
        self.env_id, self.env_kwargs, self.num_envs = env_id, dict(env_kwargs or {}), num_envs
        envs = [make_one() for _ in range(num_envs)]
        turn_based = not isinstance(envs[0], ParallelEnv)
        for env in envs:
            env.reset(seed=0)  # some envs only answer state() / spaces after a reset
        self.info = describe(envs[0], env_id, turn_based)
        adapter = TurnBasedAdapter if turn_based else ParallelAdapter
        self.copies = [adapter(env, self.info) for env in envs]

    def reset(self, seed: int | None = None) -> Step:
        rows = [c.reset(None if seed is None else seed + k) for k, c in enumerate(self.copies)]
        k, n = self.num_envs, self.info.n_agents
        zeros = np.zeros((k, n), np.float32)
        obs, state = _stack(rows, 0), _stack(rows, 1)
        return Step(obs, state, _stack(rows, 2), _stack(rows, 3), _stack(rows, 4), zeros,
                    zeros.astype(bool), zeros.astype(bool), np.zeros(k, bool), obs.copy(), state.copy(), [])

    def step(self, actions: np.ndarray) -> Step:
        results, finished = [], []
        ends = np.zeros(self.num_envs, bool)
        final_obs, final_state = [], []
        for k, copy in enumerate(self.copies):
            rows, reward, term, trunc, done = copy.step(actions[k])
            final_obs.append(rows[0])
            final_state.append(rows[1])
            if done:
                ends[k] = True
                finished.append((k, copy.returns.copy(), copy.length))
                rows = copy.reset(None)
            results.append((rows, reward, term, trunc))
        rows = [r[0] for r in results]
        return Step(_stack(rows, 0), _stack(rows, 1), _stack(rows, 2), _stack(rows, 3), _stack(rows, 4),
                    np.stack([r[1] for r in results]), np.stack([r[2] for r in results]),
                    np.stack([r[3] for r in results]), ends, np.stack(final_obs), np.stack(final_state),
                    finished)

    def snapshot(self) -> bytes | None:
        """The copies' full state (positions, RNGs, episode counters), or None if they cannot be pickled."""
        buffer = io.BytesIO()
        try:
            _StatePickler(buffer).dump([(c.env, c.returns, c.length) for c in self.copies])
        except Exception:  # arbitrary user environments may hold unpicklable handles
            return None
        return buffer.getvalue()

    def restore(self, blob: bytes) -> None:
        # The replaced envs are dropped, not closed: mpe2's close() calls pygame.quit(), which would
        # invalidate the fonts of every other live MPE env in the process.
        for copy, (env, returns, length) in zip(self.copies, pickle.loads(blob)):
            copy.env, copy.returns, copy.length = env, returns, length

    def render(self):
        return self.copies[0].env.render()

    def close(self) -> None:
        for copy in self.copies:
            copy.env.close()


class _StatePickler(pickle.Pickler):
    """Pickles EzPickle objects (PettingZoo and Gymnasium envs) by their attributes: EzPickle's own
    pickling stores only the constructor arguments, which would silently restart every episode."""

    def reducer_override(self, obj):
        if isinstance(obj, EzPickle):
            return _blank_instance, (type(obj),), dict(obj.__dict__), None, None, _set_attributes
        pygame = sys.modules.get("pygame")
        if pygame is not None:  # render canvases and fonts: rebuilt empty, they are redrawn every frame
            if isinstance(obj, pygame.Surface):
                return pygame.Surface, (obj.get_size(),)
            freetype = sys.modules.get("pygame.freetype")
            if freetype is not None and isinstance(obj, freetype.Font):
                try:
                    return _font, (obj.path, obj.size)
                except pygame.error:  # closing any MPE env calls pygame.quit(), which kills every live font
                    return _no_font, ()
        return NotImplemented


def _font(path: str, size: int):
    import pygame.freetype

    pygame.freetype.init()
    return pygame.freetype.Font(path, size)


def _no_font():
    return None  # a font pygame had already invalidated: the training copies never render


def _blank_instance(cls):
    return cls.__new__(cls)


def _set_attributes(obj, state: dict) -> None:
    obj.__dict__.update(state)


def _stack(rows: list[tuple], i: int) -> np.ndarray:
    return np.stack([r[i] for r in rows])
