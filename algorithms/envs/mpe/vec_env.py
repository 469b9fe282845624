"""`batched:NAME`: K copies of an mpe2 scenario stepped as arrays, behind the VecEnv interface.

`BatchedMPEVecEnv` gives exactly what `PettingZooVecEnv` gives for `mpe2:NAME` with the same keyword
arguments (EnvInfo, padding, masks, auto-reset, `finished`), only faster. `BatchedParallelEnv` is a
one-copy PettingZoo ParallelEnv view of the same simulator (seeded like mpe2, so `reset(seed)` gives
mpe2's episode), for `marl inspect` and anything else that expects a PettingZoo environment.

Seeding (`seeding=`, a constructor argument of the VecEnv, not an env keyword):
- "batch" (default, fastest): one `numpy.random.Generator` serves the whole batch. `reset(seed)`
  re-creates it from `seed`; auto-resets draw from it, so the same seed and actions give the same
  episodes, and copies differ because they draw different numbers. mpe2's initial-state distributions,
  not its random stream.
- "mpe2": copy k owns a generator seeded as PettingZooVecEnv seeds mpe2 copy k (`seed + k`) and resets
  with mpe2's own calls in mpe2's order, so every episode starts exactly where mpe2's would: a run on
  `batched:` then repeats the `mpe2:` run bit for bit (tests/learning/test_batched_mpe_learning.py). Resets cost
  a Python loop over the copies that end.
"""
from __future__ import annotations

import inspect
import pickle
from typing import Any

import numpy as np
from gymnasium import spaces
from gymnasium.utils import seeding as gym_seeding
from pettingzoo.utils.env import ParallelEnv

from algorithms.errors import MARLError, did_you_mean
from algorithms.core.vec_env import EnvInfo, Step
from algorithms.envs.mpe.adversary import Adversary
from algorithms.envs.mpe.core import World
from algorithms.envs.mpe.crypto import Crypto
from algorithms.envs.mpe.push import Push
from algorithms.envs.mpe.reference import Reference
from algorithms.envs.mpe.scenario import Scenario
from algorithms.envs.mpe.speaker_listener import SpeakerListener
from algorithms.envs.mpe.spread import Spread
from algorithms.envs.mpe.tag import Tag

SCENARIOS: dict[str, type[Scenario]] = {cls.name: cls for cls in (Spread, Tag, Adversary, SpeakerListener,
                                                                   Reference, Push, Crypto)}


def make_scenario(name: str, env_kwargs: dict[str, Any] | None = None) -> Scenario:
    """The scenario for `batched:NAME` with mpe2's keyword arguments (MARLError on bad input)."""
    if name not in SCENARIOS:
        raise MARLError("unknown-env", f"no batched MPE scenario '{name}'",
                           did_you_mean(name, SCENARIOS) or f"available: {', '.join(sorted(SCENARIOS))}")
    cls, kwargs = SCENARIOS[name], dict(env_kwargs or {})
    valid = [p for p in inspect.signature(cls.__init__).parameters if p != "self"]
    unknown = sorted(set(kwargs) - set(valid))
    if unknown:
        raise MARLError("bad-env-kwarg", f"batched:{name} has no keyword argument(s) {', '.join(unknown)}",
                           did_you_mean(unknown[0], valid) or f"valid: {', '.join(valid)}")
    return cls(**kwargs)


class Simulator:
    """A scenario, its K-copy world and the batch RNG: the part shared by the VecEnv and the PettingZoo view."""

    def __init__(self, scenario: Scenario, num_envs: int, seeding: str = "batch"):
        if seeding not in ("batch", "mpe2"):
            raise MARLError("bad-option", f"seeding must be 'batch' or 'mpe2', got {seeding!r}")
        self.scenario, self.num_envs, self.seeding = scenario, num_envs, seeding
        self.world = World(scenario.layout, num_envs, scenario.n_goals)
        self.rng = np.random.default_rng()
        self.rngs = [np.random.default_rng() for _ in range(num_envs)] if seeding == "mpe2" else []
        self.obs_sizes = tuple(int(o.shape[0]) for o in self._per_agent(scenario.observations(self.world)))
        continuous = scenario.continuous_actions
        self.action_sizes = tuple(scenario.layout.action_size(i, continuous) for i in range(len(scenario.agents)))

    def reset_all(self, seed: int | None) -> None:
        if self.seeding == "mpe2":
            if seed is not None:
                self.rngs = [gym_seeding.np_random(seed + k)[0] for k in range(self.num_envs)]
            self.reset_copies(np.arange(self.num_envs))
            return
        if seed is not None:
            self.rng = np.random.default_rng(seed)
        self.scenario.reset(self.world, np.arange(self.num_envs), self.rng)

    def reset_copies(self, idx: np.ndarray) -> None:
        if self.seeding == "mpe2":
            for k in idx:
                self.scenario.reset_like_mpe2(self.world, int(k), self.rngs[k])
        else:
            self.scenario.reset(self.world, idx, self.rng)

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """actions [K, N] or [K, N, D] -> (rewards [K, N] float64, terminated [K], truncated [K])."""
        u, c = self.world.decode(actions, self.scenario.continuous_actions)
        self.world.step(u, c)
        rewards = self.scenario.rewards(self.world).T
        truncated = self.world.steps >= self.scenario.max_cycles
        terminal = self.scenario.terminal(self.world)
        terminated = np.zeros_like(truncated) if terminal is None else terminal & ~truncated
        return rewards, terminated, truncated

    def observations64(self) -> list[np.ndarray]:
        """Each agent's float64 observation [K, obs_i] (what mpe2's scenario.observation returns)."""
        return [o.T for o in self._per_agent(self.scenario.observations(self.world))]

    @staticmethod
    def _per_agent(obs) -> list[np.ndarray]:
        return list(obs)  # an [N, obs, K] array or a list of [obs_i, K] arrays

    def padded_obs(self, obs_dim: int) -> tuple[np.ndarray, np.ndarray]:
        """(obs [K, N, obs_dim] float32 zero-padded, state [K, sum(obs_sizes)] float32)."""
        raw = self.scenario.observations(self.world)
        k = self.num_envs
        if isinstance(raw, np.ndarray):  # every agent has the same size: [N, obs, K]
            obs = np.array(raw.transpose(2, 0, 1), dtype=np.float32, order="C")
            return obs, obs.reshape(k, -1).copy()
        state = np.array(np.concatenate(raw).T, dtype=np.float32, order="C")   # [K, sum(obs_sizes)]
        obs = np.zeros((k, len(raw), obs_dim), np.float32)
        start = 0
        for i, size in enumerate(self.obs_sizes):
            obs[:, i, :size] = state[:, start:start + size]
            start += size
        return obs, state


def _describe(env_id: str, sim: Simulator) -> EnvInfo:
    """The EnvInfo PettingZooVecEnv derives from mpe2's spaces (state() is the concatenated observations)."""
    scenario, n = sim.scenario, len(sim.scenario.agents)
    width = max(sim.action_sizes)
    low, high = np.zeros((n, width), np.float32), np.zeros((n, width), np.float32)
    kind = "continuous" if scenario.continuous_actions else "discrete"
    if scenario.continuous_actions:
        for i, size in enumerate(sim.action_sizes):
            high[i, :size] = 1.0
    return EnvInfo(env_id, tuple(scenario.agents), max(sim.obs_sizes), sim.obs_sizes, sum(sim.obs_sizes),
                   "env.state()", kind, width, sim.action_sizes, low, high, False, False)


class BatchedMPEVecEnv:
    """K copies of an mpe2 scenario in arrays, with PettingZooVecEnv's Step semantics and auto-reset."""

    def __init__(self, name: str, env_kwargs: dict | None = None, num_envs: int = 1,
                 render_mode: str | None = None, seeding: str = "batch"):
        if render_mode is not None:
            raise MARLError("no-render", f"batched:{name} cannot render",
                               f"use --env mpe2:{name} (same keyword arguments) for videos and GIFs")
        if num_envs < 1:
            raise MARLError("bad-num-envs", f"--num-envs must be at least 1, got {num_envs}")
        self.env_id, self.env_kwargs, self.num_envs = f"batched:{name}", dict(env_kwargs or {}), num_envs
        self.sim = Simulator(make_scenario(name, self.env_kwargs), num_envs, seeding)
        self.info = _describe(self.env_id, self.sim)
        n = self.info.n_agents
        self._mask = np.arange(self.info.action_dim)[None, :] < np.asarray(self.info.action_sizes)[:, None]
        self.returns = np.zeros((num_envs, n))     # float64 sums of the float32 rewards, as PettingZooVecEnv
        self.length = np.zeros(num_envs, np.int64)

    def _flags(self):
        """(action mask, active, alive): every agent acts at every step and no one leaves early in MPE."""
        k, n = self.num_envs, self.info.n_agents
        mask = np.broadcast_to(self._mask, (k,) + self._mask.shape).copy()
        return mask, np.ones((k, n), bool), np.ones((k, n), bool)

    def reset(self, seed: int | None = None) -> Step:
        self.sim.reset_all(seed)
        self.returns[:] = 0.0
        self.length[:] = 0
        obs, state = self.sim.padded_obs(self.info.obs_dim)
        k, n = self.num_envs, self.info.n_agents
        zeros = np.zeros((k, n), np.float32)
        return Step(obs, state, *self._flags(), zeros, zeros.astype(bool), zeros.astype(bool),
                    np.zeros(k, bool), obs.copy(), state.copy(), [])

    def step(self, actions: np.ndarray) -> Step:
        n = self.info.n_agents
        rewards, terminated, truncated = self.sim.step(actions)
        reward = rewards.astype(np.float32)
        self.returns += reward
        self.length += 1
        final_obs, final_state = self.sim.padded_obs(self.info.obs_dim)
        ends = terminated | truncated
        finished = []
        if ends.any():
            idx = np.flatnonzero(ends)
            finished = [(int(k), self.returns[k].copy(), int(self.length[k])) for k in idx]
            self.sim.reset_copies(idx)
            self.returns[idx] = 0.0
            self.length[idx] = 0
            obs, state = self.sim.padded_obs(self.info.obs_dim)  # copies that did not end are unchanged
        else:
            obs, state = final_obs.copy(), final_state.copy()
        return Step(obs, state, *self._flags(), reward, np.repeat(terminated[:, None], n, 1),
                    np.repeat(truncated[:, None], n, 1), ends, final_obs, final_state, finished)

    def snapshot(self) -> bytes:
        """Every copy's state, the batch RNG and the episode counters (for `marl train --resume`)."""
        return pickle.dumps({"world": self.sim.world.state_dict(), "rng": self.sim.rng.bit_generator.state,
                             "rngs": [r.bit_generator.state for r in self.sim.rngs],
                             "returns": self.returns, "length": self.length})

    def restore(self, blob: bytes) -> None:
        state = pickle.loads(blob)
        self.sim.world.load_state_dict(state["world"])
        self.sim.rng = _generator(state["rng"])
        self.sim.rngs = [_generator(s) for s in state["rngs"]]
        self.returns, self.length = np.array(state["returns"]), np.array(state["length"])

    def render(self):
        name = self.env_id.partition(":")[2]
        raise MARLError("no-render", f"{self.env_id} cannot render", f"use mpe2:{name} for videos and GIFs")

    def close(self) -> None:
        pass


class BatchedParallelEnv(ParallelEnv):
    """One copy of a batched scenario as a PettingZoo ParallelEnv (what `marl inspect` opens)."""

    def __init__(self, name: str, render_mode: str | None = None, **env_kwargs):
        if render_mode is not None:
            raise MARLError("no-render", f"batched:{name} cannot render",
                               f"use mpe2:{name} (same keyword arguments) for videos and GIFs")
        self.sim = Simulator(make_scenario(name, env_kwargs), 1, seeding="mpe2")  # mpe2's episodes for a seed
        self.metadata = {"name": name, "render_modes": [], "is_parallelizable": True}
        self.render_mode = None
        self.possible_agents = list(self.sim.scenario.agents)
        self.agents: list[str] = []
        continuous = self.sim.scenario.continuous_actions
        self._obs_spaces = {a: spaces.Box(-np.float32(np.inf), np.float32(np.inf), (size,), np.float32)
                            for a, size in zip(self.possible_agents, self.sim.obs_sizes)}
        self._act_spaces = {a: spaces.Box(0.0, 1.0, (size,)) if continuous else spaces.Discrete(size)
                            for a, size in zip(self.possible_agents, self.sim.action_sizes)}
        self.state_space = spaces.Box(-np.float32(np.inf), np.float32(np.inf), (sum(self.sim.obs_sizes),),
                                      np.float32)
        self.sim.reset_all(None)

    def observation_space(self, agent: str) -> spaces.Space:
        return self._obs_spaces[agent]

    def action_space(self, agent: str) -> spaces.Space:
        return self._act_spaces[agent]

    def _observations(self) -> dict[str, np.ndarray]:
        return {a: o[0].astype(np.float32) for a, o in zip(self.possible_agents, self.sim.observations64())}

    def state(self) -> np.ndarray:
        return np.concatenate(list(self._observations().values()))

    def reset(self, seed: int | None = None, options: dict | None = None):
        self.sim.reset_all(seed)
        self.agents = list(self.possible_agents)
        return self._observations(), {a: {} for a in self.agents}

    def step(self, actions: dict[str, Any]):
        if not self.agents:
            raise RuntimeError("step() called on a finished episode; call reset() first")
        if self.sim.scenario.continuous_actions:
            width = max(self.sim.action_sizes)
            batch = np.zeros((1, len(self.possible_agents), width), np.float32)
            for i, a in enumerate(self.possible_agents):
                batch[0, i, : self.sim.action_sizes[i]] = np.asarray(actions[a], np.float32)
        else:
            batch = np.array([[int(actions[a]) for a in self.possible_agents]])
        rewards, terminated, truncated = self.sim.step(batch)
        agents = self.agents
        if terminated[0] or truncated[0]:
            self.agents = []
        return (self._observations(), {a: float(r) for a, r in zip(agents, rewards[0])},
                {a: bool(terminated[0]) for a in agents}, {a: bool(truncated[0]) for a in agents},
                {a: {} for a in agents})

    def render(self) -> None:
        return None

    def close(self) -> None:
        pass


def _generator(state: dict) -> np.random.Generator:
    rng = np.random.default_rng()
    rng.bit_generator.state = state
    return rng


def make_batched_vec_env(name: str, env_kwargs: dict, num_envs: int, render_mode: str | None) -> BatchedMPEVecEnv:
    return BatchedMPEVecEnv(name, env_kwargs, num_envs, render_mode)


def parallel_factory(name: str):
    def factory(**kwargs) -> BatchedParallelEnv:
        return BatchedParallelEnv(name, **kwargs)
    factory.__name__ = name
    return factory
