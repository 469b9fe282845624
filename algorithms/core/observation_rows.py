"""PettingZoo observations -> the padded rows algorithms read, for one env copy.

Used by the K-copy adapter (core/vec_env.py) while training and by `Algorithm.predict` on a user's own
un-batched env, so a policy sees exactly the same encoding in both."""
from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from algorithms.core.vec_env import EnvInfo, Step
from algorithms.errors import MARLError


def blank_rows(info: EnvInfo) -> tuple[np.ndarray, np.ndarray]:
    """Zero observations [N, obs_dim] and the action mask [N, action_dim] before any agent is written:
    an agent's real actions are open unless the env sends masks (then its observation opens them)."""
    obs = np.zeros((info.n_agents, info.obs_dim), info.obs_dtype)
    return obs, blank_mask(info)


def blank_mask(info: EnvInfo) -> np.ndarray:
    """The action mask before any agent is written: each agent's real actions open, unless the env masks."""
    opened = not info.has_action_mask or info.action_kind == "continuous"
    # One vectorised comparison, not a loop over agents (hundreds of them on MAgent-style envs).
    return (np.arange(info.action_dim) < np.asarray(info.action_sizes)[:, None]) & opened


def write_obs(info: EnvInfo, i: int, raw: Any, obs_row: np.ndarray, mask_row: np.ndarray,
              agent_info: Any = None) -> None:
    """Agent i's raw observation (an array, or a dict with 'observation' and 'action_mask') into the rows;
    an 'action_mask' in the agent's info dict (PettingZoo's other convention) is read too."""
    write_info_mask(info, i, agent_info, mask_row)
    if isinstance(raw, dict):
        if "action_mask" in raw:
            mask_row[i, : info.action_sizes[i]] = np.asarray(raw["action_mask"], bool)
        raw = raw["observation"]
    flat = np.asarray(raw, obs_row.dtype).reshape(-1)
    obs_row[i, : flat.size] = flat


def write_info_mask(info: EnvInfo, i: int, agent_info: Any, mask_row: np.ndarray) -> None:
    """Agent i's action mask from its info dict, where the env puts it there."""
    if isinstance(agent_info, dict) and "action_mask" in agent_info:
        mask_row[i, : info.action_sizes[i]] = np.asarray(agent_info["action_mask"], bool)


def concatenated_state(info: EnvInfo, obs_row: np.ndarray) -> np.ndarray:
    """The global state of an env without state(): every agent's own observation, concatenated."""
    return np.concatenate([obs_row[i, :n] for i, n in enumerate(info.obs_sizes)])


def single_step(info: EnvInfo, observations: Mapping[str, Any], state: Any = None,
                acting: str | None = None, infos: Mapping[str, Any] | None = None) -> Step:
    """A one-copy Step from a PettingZoo observation dict (agent -> observation). `acting` names the one
    agent whose turn it is (turn-based envs); otherwise every agent in the dict acts. `state` is the env's
    state() where the policy was trained on it, else the observations are concatenated. `infos` (agent ->
    info dict) carries the action masks of envs that put them there (LBF, RWARE)."""
    index = {a: i for i, a in enumerate(info.agents)}
    unknown = [a for a in observations if a not in index]
    if unknown:
        raise MARLError("unknown-agent", f"observations for {unknown}, which this policy was not trained with",
                        f"its agents: {', '.join(info.agents)}")
    obs, mask = blank_rows(info)
    present = np.zeros(info.n_agents, bool)
    for agent, raw in observations.items():
        try:
            write_obs(info, index[agent], raw, obs, mask, (infos or {}).get(agent))
        except ValueError as err:  # a row of the wrong size
            raise MARLError("bad-observation", f"agent '{agent}''s observation does not fit this policy: {err}",
                            f"it was trained on '{info.env_id}' ({info.obs_sizes[index[agent]]} values)") from None
        present[index[agent]] = True
    active = present.copy()
    if acting is not None:
        active[:] = False
        active[index[acting]] = True
    if state is None:
        state_row = concatenated_state(info, obs) if info.state_source != "env.state()" else np.zeros(info.state_dim)
    else:
        state_row = np.asarray(state, np.float32).reshape(-1)
    n = info.n_agents
    zeros = np.zeros((1, n), np.float32)
    no = np.zeros((1, n), bool)
    state_row = np.asarray(state_row, np.float32)[None]
    return Step(obs[None], state_row, mask[None], active[None], present[None], zeros, no, no.copy(),
                np.zeros(1, bool), obs[None].copy(), state_row.copy(), [])
