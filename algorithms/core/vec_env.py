"""The batched multi-agent interface every algorithm sees: EnvInfo, Step and the VecEnv protocol.

Algorithms never loop over environment copies or agents: they get NumPy arrays with a leading
copy axis K and an agent axis N, and hand back actions of shape [K, N] (discrete), [K, N, act_dim]
(continuous) or [K, N, components] (multi_discrete: MultiDiscrete and MultiBinary, one value per component).

Agents with different observation or action sizes (simple_adversary, simple_speaker_listener) are
padded to a common size: observations with zeros (the agent-id one-hot tells the policy who it is),
discrete actions (and each component of factorised ones) with extra choices that the action mask always
forbids, continuous actions with extra
dimensions that `act_dim_mask` leaves out of log-probabilities and the env never receives.

Implementations: core/pettingzoo_vec_env.py (K copies of any PettingZoo env) and natively batched
simulators such as envs/mpe; core/env_registry.py picks one for an env string.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np


@dataclass(frozen=True)
class EnvInfo:
    """What an algorithm needs to know about a (padded) multi-agent environment."""

    env_id: str
    agents: tuple[str, ...]
    obs_dim: int                 # padded observation size
    obs_sizes: tuple[int, ...]   # each agent's own observation size
    state_dim: int
    state_source: str            # "env.state()" or "concatenated observations"
    action_kind: str             # "discrete", "continuous" or "multi_discrete" (MultiDiscrete, MultiBinary)
    action_dim: int              # discrete: number of choices (padded); continuous: vector size (padded);
                                 # multi_discrete: the padded component sizes summed (logits, one-hots, masks)
    action_sizes: tuple[int, ...]  # each agent's own: choices, vector size, or (multi_discrete) mask entries
    action_low: np.ndarray = field(repr=False)    # [N, action_dim], continuous only (zeros otherwise)
    action_high: np.ndarray = field(repr=False)   # [N, action_dim]
    turn_based: bool = False
    has_action_mask: bool = False
    # Image observations (every agent's a Box of the same height x width x channels): their shape, the factor
    # that brings pixels to [0, 1] (1/255 for uint8), and the layout of the state when it is an image too:
    # (views, height, width, channels), views = agents when the state is their concatenated observations.
    obs_image: tuple[int, ...] = ()
    image_scale: float = 1.0
    state_image: tuple[int, ...] = ()
    # Each agent's observation space without its action mask (core/observation_rows.py `observation_part`): a Tuple
    # or Dict is flattened into its row by gymnasium.spaces.flatten (Discrete parts one-hot), and the others are
    # checked for their size; empty for natively batched envs (their rows are right by construction).
    obs_spaces: tuple = field(default=(), repr=False, compare=False)
    # multi_discrete only: each agent's own component sizes (MultiBinary(n) is n components of 2; every agent has
    # the same number of components), and the integer dtype its env takes. Actions are then [K, N, components].
    action_nvecs: tuple[tuple[int, ...], ...] = ()
    action_dtype: str = "int64"

    @property
    def obs_dtype(self) -> type:
        """uint8 for uint8 images (kept until the network scales them: a quarter of float32's memory), else float32."""
        return np.uint8 if self.obs_image and self.image_scale != 1.0 else np.float32

    @property
    def n_agents(self) -> int:
        return len(self.agents)

    @property
    def agent_ids(self) -> np.ndarray:
        """[N, N] one-hot agent ids, the input that tells agents apart when they share parameters."""
        return np.eye(self.n_agents, dtype=np.float32)

    @property
    def action_components(self) -> tuple[int, ...]:
        """multi_discrete: each component's size padded to the largest agent's; discrete: one component."""
        if not self.action_nvecs:
            return (self.action_dim,)
        return tuple(int(n) for n in np.max(self.action_nvecs, axis=0))

    @property
    def real_actions(self) -> np.ndarray:
        """[N, action_dim] True for each agent's own discrete choices (multi_discrete: of every component), False
        for padding: the mask at a final observation, whose legality the env never reports (the next row already
        belongs to the next episode). Padded choices stay closed there: they are never taken, so their values are
        never trained."""
        if self.action_nvecs:
            real = np.zeros((self.n_agents, self.action_dim), bool)
            for i in range(self.n_agents):
                real[i, np.concatenate(self.component_columns(i))] = True
            return real
        return np.arange(self.action_dim)[None, :] < np.asarray(self.action_sizes)[:, None]

    def component_columns(self, i: int) -> list[np.ndarray]:
        """multi_discrete: agent i's own choices of each component, as columns of the [..., action_dim] layout
        (each component's padded choices side by side)."""
        starts = np.cumsum((0, *self.action_components[:-1]))
        return [start + np.arange(n) for start, n in zip(starts, self.action_nvecs[i])]

    @property
    def act_dim_mask(self) -> np.ndarray:
        """[N, action_dim] True for the action dimensions each agent really has (continuous padding)."""
        dims = np.arange(self.action_dim)[None, :]
        return dims < np.asarray(self.action_sizes)[:, None]


@dataclass
class Step:
    """One batched step. Arrays are [K, N, ...] unless noted; rows of copies that just ended an
    episode already hold the first observation of the next one (auto-reset)."""

    obs: np.ndarray           # [K, N, obs_dim] float32
    state: np.ndarray         # [K, state_dim] float32
    action_mask: np.ndarray   # [K, N, n_actions] bool (all True for continuous)
    active: np.ndarray        # [K, N] bool: the agent acts at this observation (policy-loss mask)
    alive: np.ndarray         # [K, N] bool: the agent is still in the episode (value-loss mask)
    reward: np.ndarray        # [K, N] float32, reward for the action just taken
    terminated: np.ndarray    # [K, N] bool: the agent reached a terminal state (no bootstrap)
    truncated: np.ndarray     # [K, N] bool: the episode was cut by a time limit (bootstrap)
    episode_end: np.ndarray   # [K] bool: this copy finished an episode and was reset
    final_obs: np.ndarray     # [K, N, obs_dim]: last observation of the finished episode (for bootstrapping)
    final_state: np.ndarray   # [K, state_dim]
    finished: list[tuple[int, np.ndarray, int]]  # (copy, per-agent return [N], length) of each episode that ended


class VecEnv(Protocol):
    """The batched interface: a natively vectorised simulator implements this directly."""

    info: EnvInfo
    num_envs: int

    def reset(self, seed: int | None = None) -> Step: ...
    def step(self, actions: np.ndarray) -> Step: ...
    def close(self) -> None: ...
