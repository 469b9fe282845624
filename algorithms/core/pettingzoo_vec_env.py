"""K copies of any PettingZoo environment behind the batched VecEnv interface (core/vec_env.py).

Turn-based (AEC) games go through `TurnBasedAdapter`: every agent is observed at every step, but only
the agent whose turn it is has `active` set; the others' actions are ignored and kept out of the policy loss.
"""
from __future__ import annotations

import io
import pickle
from typing import Any, Callable

import numpy as np
from gymnasium import spaces
from pettingzoo.utils.env import ParallelEnv

from algorithms.core.action_spaces import FACTORISED, component_sizes, env_action
from algorithms.core.env_output_checks import AdapterChecks, BatchChecks
# Snapshots written before env_snapshot.py existed name its functions here: they stay importable from this module.
from algorithms.core.env_snapshot import _StatePickler, _blank_instance, _font, _no_font, _set_attributes  # noqa
from algorithms.core.observation_rows import (blank_mask, check_observation_space, concatenated_state, observation_part,
                                              row_size, write_info_mask, write_obs)
from algorithms.core.vec_env import EnvInfo, Step
from algorithms.errors import BadEnvOutput, EnvError, MARLError

# ---------------------------------------------------------------------------------------------------
# Space helpers


def _obs_space(space: spaces.Space) -> spaces.Space:
    """The observation without its action mask (observation_rows.observation_part)."""
    return observation_part(space)


def _flat_size(space: spaces.Space) -> int:
    return row_size(space)


def describe(env, env_id: str, turn_based: bool, info_masks: bool = False) -> EnvInfo:
    """The padded shapes of `env` (reset already). `info_masks`: the env sends action masks in info dicts."""
    agents = tuple(env.possible_agents)
    obs_spaces = [env.observation_space(a) for a in agents]
    act_spaces = [env.action_space(a) for a in agents]
    for agent, space in zip(agents, obs_spaces):  # Sequence, Graph, Text: no row to make (one MARLError)
        check_observation_space(env_id, agent, space)
    obs_sizes = tuple(_flat_size(_obs_space(s)) for s in obs_spaces)
    has_mask = info_masks or any(isinstance(s, spaces.Dict) and "action_mask" in s.spaces for s in obs_spaces)
    if all(isinstance(s, spaces.Discrete) for s in act_spaces):
        kind, sizes = "discrete", tuple(int(s.n) for s in act_spaces)
    elif all(isinstance(s, spaces.Box) and len(s.shape) == 1 for s in act_spaces):
        kind, sizes = "continuous", tuple(int(s.shape[0]) for s in act_spaces)
    elif all(isinstance(s, FACTORISED) for s in act_spaces):
        kind, (nvecs, dtype) = "multi_discrete", component_sizes(env_id, agents, act_spaces)
        sizes = tuple(sum(v) for v in nvecs)  # the entries of each agent's own (flat) action mask
    else:
        names = sorted({type(s).__name__ for s in act_spaces})
        raise MARLError("unsupported-action-space", f"'{env_id}' has action spaces {names}",
                           "supported, the same kind for every agent: Discrete, 1-D Box, or MultiDiscrete / "
                           "MultiBinary")
    factorised = dict(action_nvecs=nvecs, action_dtype=dtype) if kind == "multi_discrete" else {}
    width = int(np.max(nvecs, axis=0).sum()) if kind == "multi_discrete" else max(sizes)
    low = np.zeros((len(agents), width), np.float32)
    high = np.zeros((len(agents), width), np.float32)
    if kind == "continuous":
        for i, s in enumerate(act_spaces):
            if not (np.all(np.isfinite(s.low)) and np.all(np.isfinite(s.high))):
                raise MARLError("unsupported-action-space", f"'{env_id}' has an unbounded Box action space",
                                   "policies squash actions into the Box bounds, which must be finite")
            low[i, : sizes[i]], high[i, : sizes[i]] = s.low, s.high
    state_dim, source, state_shape = sum(obs_sizes), "concatenated observations", ()
    try:
        state = np.asarray(env.state())
        state_dim, source, state_shape = int(state.size), "env.state()", state.shape
    except (NotImplementedError, TypeError, AttributeError):  # no state(): the observations stand in for it
        pass
    except Exception as err:
        raise EnvError(env_id, "state", 0, err) from err
    obs_image, scale = _image_shape([_obs_space(s) for s in obs_spaces])
    state_image = ((1, *_hwc(state_shape)) if len(state_shape) in (2, 3) else
                   (len(agents), *obs_image) if obs_image and source != "env.state()" else ())
    return EnvInfo(env_id, agents, max(obs_sizes), obs_sizes, state_dim, source, kind, width, sizes,
                   low, high, turn_based, has_mask, obs_image, scale, state_image,
                   obs_spaces=tuple(_obs_space(s) for s in obs_spaces), **factorised)


def _hwc(shape: tuple[int, ...]) -> tuple[int, ...]:
    return (*shape, 1) if len(shape) == 2 else tuple(shape)


def _image_shape(obs_spaces: list[spaces.Space]) -> tuple[tuple[int, ...], float]:
    """(height, width, channels) when every agent observes an image Box (2-D, or 3-D channels last) of the same
    shape, with the factor to [0, 1] (1/255 for uint8 pixels); ((), 1.0) otherwise."""
    first = obs_spaces[0]
    if not (isinstance(first, spaces.Box) and len(first.shape) in (2, 3)) or \
            any(not isinstance(s, spaces.Box) or s.shape != first.shape for s in obs_spaces):
        return (), 1.0
    return _hwc(first.shape), (1 / 255 if first.dtype == np.uint8 else 1.0)


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


class _Adapter(AdapterChecks):
    """Shared bookkeeping: converts per-agent dicts into padded rows for one environment copy.

    Every call into the env goes through `_call`, so an env that raises ends the run with one EnvError naming
    the env, the method and the step. `state()` is optional and some envs break it at episode ends
    (multiwalker_v9 once a walker has fallen): it is called only while an algorithm asked for the state
    (`want_state`), and never for the final step of an episode that terminated (nothing bootstraps from it)."""

    def __init__(self, env, info: EnvInfo, copy: int = 0):
        self.env, self.info, self.copy = env, info, copy
        self.index = {a: i for i, a in enumerate(info.agents)}
        self.returns = np.zeros(info.n_agents, np.float64)
        self.length = 0
        # Where the env's output being read came from, for messages: (method, step of the episode), and which
        # episode of this copy it is (counted from 1 since this process built the copy).
        self.at, self.episodes = ("reset", 0), 0
        self.state_from_obs = info.state_source != "env.state()" or _state_is_concatenated_obs(env)
        self.want_state = True
        self.no_state = np.zeros(info.state_dim, np.float32)
        # Plain array observations of the full padded size: written in one vectorised copy, not agent by agent
        # (with hundreds of agents the per-agent Python work would cost more than the env's own step).
        self.in_order = list(range(info.n_agents))
        self.all_agents = list(info.agents)
        self.mask0 = blank_mask(info)
        self.zero_obs = np.zeros(info.obs_dim, info.obs_dtype)
        self.plain_obs = all(isinstance(env.observation_space(a), spaces.Box) and size == info.obs_dim
                             for a, size in zip(info.agents, info.obs_sizes))

    def _call(self, method: str, fn: Callable, *args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except MARLError:
            raise
        except BadEnvOutput as err:  # a wrapper of ours (envs/gymma.py) found the env's output malformed
            raise self._output_error(err.problem, err.agent) from None
        except Exception as err:
            raise EnvError(self.info.env_id, method, self.length, err, self.copy) from err

    def _state(self, obs_row: np.ndarray, terminal: bool = False) -> np.ndarray:
        if not self.want_state or terminal:
            return self.no_state.copy()
        if not self.state_from_obs:
            return self._checked_state(self._call("state", self.env.state))
        return concatenated_state(self.info, obs_row)

    def _blank(self):
        return np.zeros((self.info.n_agents, self.info.obs_dim), self.info.obs_dtype), self.mask0.copy()

    def _rows_of(self, agents: list) -> list[int]:
        """Row indices of these agents; every agent in order (the common case) is one C-level comparison."""
        return self.in_order if agents == self.all_agents else [self.index[a] for a in agents]


class ParallelAdapter(_Adapter):
    """A PettingZoo ParallelEnv: every live agent acts at every step."""

    def reset(self, seed: int | None):
        self.returns[:] = 0.0
        self.length = 0
        self.at, self.episodes = ("reset", 0), self.episodes + 1
        observations, infos = self._call("reset", self.env.reset, seed=seed)
        return self._rows(observations, infos)

    def _rows(self, observations: dict, infos: Any, terminal: bool = False):
        mask = self.mask0.copy()
        alive = np.zeros(self.info.n_agents, bool)
        infos = infos if isinstance(infos, dict) else {}
        agents = list(observations)
        try:  # what fails here is the env's output not fitting its spaces: _bad_rows says whose and how
            rows = self._rows_of(agents)
            if agents == self.env.agents:
                alive[rows] = True
            else:
                live = set(self.env.agents)
                alive[rows] = [a in live for a in agents]
            if self.plain_obs and observations:
                values = list(observations.values())
                if rows is not self.in_order:  # absent agents read a zero row; one copy below, not a scatter after it
                    full = [self.zero_obs.reshape(np.shape(values[0]))] * self.info.n_agents
                    for i, value in zip(rows, values):
                        full[i] = value
                    values = full
                dtype = self.info.obs_dtype
                obs = np.concatenate(values, dtype=dtype) if np.ndim(values[0]) else np.asarray(values, dtype)
                if obs.size != self.info.n_agents * self.info.obs_dim:  # an agent's observation of another size
                    raise BadEnvOutput(f"{obs.size} observation values in all")
                obs = obs.reshape(self.info.n_agents, -1)
                if self.info.has_action_mask:
                    for agent, i in zip(observations, rows):
                        write_info_mask(self.info, i, infos.get(agent), mask)
            else:
                obs = self._blank()[0]
                for agent, raw in observations.items():
                    write_obs(self.info, self.index[agent], raw, obs, mask, infos.get(agent))
        except (ValueError, TypeError, KeyError, IndexError) as err:
            raise self._bad_rows(observations, infos, err) from None
        return obs, self._state(obs, terminal), mask, alive, alive.copy()

    def step(self, actions: np.ndarray):
        live = list(self.env.agents)  # a copy: the env removes agents that finish during the step
        rows = self._rows_of(live)
        if self.info.action_kind == "discrete":  # one conversion for all agents, not one per agent
            joint = dict(zip(live, (actions if rows is self.in_order else actions[rows]).tolist()))
        else:
            joint = {a: env_action(self.info, i, actions[i]) for a, i in zip(live, rows)}
        self.at = ("step", self.length + 1)
        observations, rewards, terms, truncs, infos = self._call("step", self.env.step, joint)
        n = self.info.n_agents
        reward, term, trunc = np.zeros(n, np.float32), np.zeros(n, bool), np.zeros(n, bool)
        try:
            reward[rows] = _per_agent(rewards, live, 0.0)
        except (TypeError, ValueError):
            raise self._bad_reward(rewards, live) from None
        term[rows] = _per_agent(terms, live, False)
        trunc[rows] = _per_agent(truncs, live, False)
        self.returns += reward
        self.length += 1
        done = not self.env.agents
        rows = self._rows(observations, infos, terminal=done and not trunc.any())
        return rows, reward, term, trunc, done


class TurnBasedAdapter(_Adapter):
    """A PettingZoo AECEnv: one agent acts per step; every agent's reward for that step is reported."""

    def reset(self, seed: int | None):
        self.returns[:] = 0.0
        self.length = 0
        self.at, self.episodes = ("reset", 0), self.episodes + 1
        self._call("reset", self.env.reset, seed=seed)
        return self._rows()

    def _rows(self, terminal: bool = False):
        obs, mask = self._blank()
        alive = np.zeros(self.info.n_agents, bool)
        infos = getattr(self.env, "infos", None) or {}
        for agent in self.env.agents:
            raw = self._call("observe", self.env.observe, agent)
            try:
                write_obs(self.info, self.index[agent], raw, obs, mask, infos.get(agent))
            except (ValueError, TypeError, KeyError, IndexError) as err:
                raise self._bad_rows({agent: raw}, infos, err) from None
            alive[self.index[agent]] = True
        active = np.zeros_like(alive)
        if self.env.agents:
            active[self.index[self.env.agent_selection]] = True
        return obs, self._state(obs, terminal), mask, active, alive

    def step(self, actions: np.ndarray):
        env, n = self.env, self.info.n_agents
        actor = env.agent_selection
        self.at = ("step", self.length + 1)
        self._call("step", env.step, env_action(self.info, self.index[actor], actions[self.index[actor]]))
        reward, term, trunc = np.zeros(n, np.float32), np.zeros(n, bool), np.zeros(n, bool)
        try:
            for agent, r in env.rewards.items():
                reward[self.index[agent]] = r
        except (TypeError, ValueError):
            raise self._bad_reward(env.rewards, list(env.rewards)) from None
        for agent in env.agents:
            term[self.index[agent]] = env.terminations[agent]
            trunc[self.index[agent]] = env.truncations[agent]
        # The final observation, taken before finished agents are removed (a terminal one needs no state).
        everyone_done = all(env.terminations[a] or env.truncations[a] for a in env.agents)
        rows = self._rows(terminal=everyone_done and not trunc.any())
        # Finished agents must be stepped with None before the game moves on (PettingZoo's AEC contract).
        while env.agents and (env.terminations[env.agent_selection] or env.truncations[env.agent_selection]):
            self._call("step", env.step, None)
        self.returns += reward
        self.length += 1
        done = not env.agents
        if not done and (term.any() or trunc.any()):
            rows = self._rows()
        return rows, reward, term, trunc, done


# ---------------------------------------------------------------------------------------------------
# K copies in one process


class PettingZooVecEnv(BatchChecks):
    """K copies of a PettingZoo environment stepped in one process, with auto-reset."""

    def __init__(self, env_id: str, env_kwargs: dict | None, num_envs: int, make_one: Callable[[], Any]):
        """`make_one()` builds one copy (env_registry.make_vec_env passes the factory for `env_id`)."""
        if num_envs < 1:
            raise MARLError("bad-num-envs", f"--num-envs must be at least 1, got {num_envs}")
        self.env_id, self.env_kwargs, self.num_envs = env_id, dict(env_kwargs or {}), num_envs
        envs = [make_one() for _ in range(num_envs)]
        turn_based = not isinstance(envs[0], ParallelEnv)
        first_infos: Any = None
        for env in envs:  # some envs only answer state() / spaces after a reset
            try:
                reset = env.reset(seed=0)
            except Exception as err:
                raise EnvError(env_id, "reset", 0, err) from err
            if first_infos is None:
                first_infos = getattr(env, "infos", None) if turn_based else reset[1]
        info_masks = isinstance(first_infos, dict) and any(
            isinstance(i, dict) and "action_mask" in i for i in first_infos.values())
        self.info = describe(envs[0], env_id, turn_based, info_masks)
        adapter = TurnBasedAdapter if turn_based else ParallelAdapter
        self.copies = [adapter(env, self.info, k) for k, env in enumerate(envs)]

    def request_state(self, wanted: bool) -> None:
        """Called by each algorithm built on these copies: whether it reads Step.state. Until one does, the env's
        state() is never called (zeros stand in); until any algorithm answers, it is (the safe default)."""
        self.state_wanted = wanted or getattr(self, "state_wanted", False)
        for copy in self.copies:
            copy.want_state = self.state_wanted

    def reset(self, seed: int | None = None) -> Step:
        rows = [c.reset(None if seed is None else seed + k) for k, c in enumerate(self.copies)]
        k, n = self.num_envs, self.info.n_agents
        zeros = np.zeros((k, n), np.float32)
        obs, state = _stack(rows, 0), _stack(rows, 1)
        self._check_finite((zeros, obs, state))
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
        obs, state = _stack(rows, 0), _stack(rows, 1)
        if ends.any():
            final_obs, final_state = np.stack(final_obs), np.stack(final_state)
        else:  # nothing ended: the final observation is the observation (one copy of large rows, not two)
            final_obs, final_state = obs, state
        reward = np.stack([r[1] for r in results])
        self._check_finite((reward, obs, state) if final_obs is obs else (reward, obs, state, final_obs, final_state),
                           ends, finished)
        return Step(obs, state, _stack(rows, 2), _stack(rows, 3), _stack(rows, 4),
                    reward, np.stack([r[2] for r in results]),
                    np.stack([r[3] for r in results]), ends, final_obs, final_state, finished)

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
        return self.copies[0]._call("render", self.copies[0].env.render)

    def close(self) -> None:
        for copy in self.copies:
            copy.env.close()


def _per_agent(values: dict, live: list, default) -> list:
    """values[a] for every live agent: the dict's own order where it matches (at C speed), else looked up."""
    return list(values.values()) if list(values) == live else [values.get(a, default) for a in live]


def _stack(rows: list[tuple], i: int) -> np.ndarray:
    if len(rows) == 1:  # one copy: a view, not a copy (large with many agents)
        return rows[0][i][None]
    return np.stack([r[i] for r in rows])
