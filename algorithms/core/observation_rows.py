"""PettingZoo observations -> the padded rows algorithms read, for one env copy.

Used by the K-copy adapter (core/vec_env.py) while training and by `Algorithm.predict` on a user's own
un-batched env, so a policy sees exactly the same encoding in both."""
from __future__ import annotations

from typing import Any, Mapping

import numpy as np
from gymnasium import spaces

from algorithms.core.action_spaces import flat_mask
from algorithms.core.vec_env import EnvInfo, Step
from algorithms.errors import BadEnvOutput, MARLError

# Observation spaces with no fixed-size numeric vector to make a row of (gymnasium flattens Text to character
# indices, which no network reads as numbers).
UNFLATTENABLE = (spaces.Sequence, spaces.Graph, spaces.Text)


def observation_part(space: spaces.Space) -> spaces.Space:
    """The part of an agent's observation space that becomes its row. A Dict's 'action_mask' entry is the action
    mask, not observation: its 'observation' entry is the observation (PettingZoo's convention), or, without one,
    every other entry. Any other space is the observation."""
    if isinstance(space, spaces.Dict):
        if "observation" in space.spaces:
            return space["observation"]
        if "action_mask" in space.spaces:
            return spaces.Dict([(k, s) for k, s in space.spaces.items() if k != "action_mask"])  # order kept
    return space


def flattened(space: spaces.Space | None) -> bool:
    """Whether rows of this observation part are gymnasium.spaces.flatten's (Tuple, Dict, OneOf: Discrete parts
    one-hot); arrays (Box, MultiBinary) are written as they are, and so, as always, are a bare Discrete's or
    MultiDiscrete's integers."""
    return isinstance(space, (spaces.Tuple, spaces.Dict, spaces.OneOf))


def row_size(space: spaces.Space) -> int:
    """The row width of an observation part (gymnasium's flat dimension; a Box's element count)."""
    return int(np.prod(space.shape)) if isinstance(space, spaces.Box) else int(spaces.flatdim(space))


def unflattenable(space: spaces.Space) -> str | None:
    """Why `space` cannot become a fixed-size row, or None when it can."""
    if isinstance(space, UNFLATTENABLE):
        return f"a {type(space).__name__} space has no fixed-size numeric form"
    if isinstance(space, (spaces.Tuple, spaces.Dict, spaces.OneOf)):
        parts = space.spaces.values() if isinstance(space, spaces.Dict) else space.spaces
        return next((why for why in map(unflattenable, parts) if why), None)
    try:
        spaces.flatdim(space)
    except (ValueError, NotImplementedError, TypeError) as err:
        return f"gymnasium cannot flatten it ({type(err).__name__})"
    return None


def space_summary(space: spaces.Space) -> str:
    """A short name for a space: Box(3,), Discrete(4), Tuple(Box(3,), Discrete(4)), Dict(pos: Box(2,), ...)."""
    if isinstance(space, spaces.Box):
        return f"Box{tuple(space.shape)}"
    if isinstance(space, spaces.Discrete):
        start = int(space.start)
        return f"Discrete({int(space.n)})" if start == 0 else f"Discrete({int(space.n)}, start={start})"
    if isinstance(space, spaces.MultiDiscrete):
        return f"MultiDiscrete({np.asarray(space.nvec).tolist()})"
    if isinstance(space, spaces.MultiBinary):
        return f"MultiBinary({space.n})"
    if isinstance(space, spaces.Tuple):
        return f"Tuple({', '.join(space_summary(s) for s in space.spaces)})"
    if isinstance(space, spaces.Dict):
        return f"Dict({', '.join(f'{k}: {space_summary(s)}' for k, s in space.spaces.items())})"
    if isinstance(space, spaces.Sequence):
        return f"Sequence({space_summary(space.feature_space)})"
    if isinstance(space, spaces.Graph):
        edges = f", {space_summary(space.edge_space)}" if space.edge_space is not None else ""
        return f"Graph({space_summary(space.node_space)}{edges})"
    if isinstance(space, spaces.Text):
        return f"Text({space.min_length}..{space.max_length} characters)"
    return str(space)


def flat_summary(space: spaces.Space) -> str:
    """An agent's observation space and the row it becomes: 'Tuple(Box(3,), Discrete(4)) -> 7 flat values'."""
    why = unflattenable(space)
    if why:
        return f"{space_summary(space)} -> cannot be flattened ({why})"
    masked = isinstance(space, spaces.Dict) and "action_mask" in space.spaces
    return f"{space_summary(space)} -> {row_size(observation_part(space))} flat values" + \
        (" and the action mask" if masked else "")


def check_observation_space(env_id: str, agent: str, space: spaces.Space) -> None:
    """MARLError for an observation space that cannot become a row (Sequence, Graph, Text anywhere in it)."""
    why = unflattenable(space)
    if why:
        raise MARLError("unsupported-observation-space", f"'{env_id}': agent '{agent}' observes "
                        f"{space_summary(space)}, which cannot be flattened into a fixed-size vector: {why}",
                        "supported: Box, Discrete, MultiDiscrete, MultiBinary, and Tuple or Dict of them (flattened "
                        "as gymnasium.spaces.flatten does); wrap the env to give fixed-size arrays")


def blank_rows(info: EnvInfo) -> tuple[np.ndarray, np.ndarray]:
    """Zero observations [N, obs_dim] and the action mask [N, action_dim] before any agent is written:
    an agent's real actions are open unless the env sends masks (then its observation opens them)."""
    obs = np.zeros((info.n_agents, info.obs_dim), info.obs_dtype)
    return obs, blank_mask(info)


def blank_mask(info: EnvInfo) -> np.ndarray:
    """The action mask before any agent is written: each agent's real actions open, unless the env masks."""
    opened = not info.has_action_mask or info.action_kind == "continuous"
    # One vectorised comparison, not a loop over agents (hundreds of them on MAgent-style envs).
    return info.real_actions & opened


def write_obs(info: EnvInfo, i: int, raw: Any, obs_row: np.ndarray, mask_row: np.ndarray,
              agent_info: Any = None) -> None:
    """Agent i's raw observation (an array, a Tuple or Dict of them, or a dict with 'action_mask' and the
    observation) into the rows; an 'action_mask' in the agent's info dict (PettingZoo's other convention) is read
    too. Tuple and Dict observations are flattened by gymnasium.spaces.flatten. BadEnvOutput (a ValueError) when
    the observation's size or the mask's length is not what the space declares."""
    write_info_mask(info, i, agent_info, mask_row)
    space = info.obs_spaces[i] if info.obs_spaces else None
    if isinstance(raw, dict):
        if "action_mask" in raw:
            write_mask(info, i, raw["action_mask"], mask_row)
        if "observation" in raw or not flattened(space):
            raw = raw["observation"]
    flat = spaces.flatten(space, raw) if flattened(space) else np.asarray(raw, obs_row.dtype).reshape(-1)
    size = info.obs_sizes[i]
    # A bare Discrete or MultiDiscrete writes its integers into a row as wide as their one-hot (as it always has).
    if flat.size != size and (flat.size > size or not isinstance(space, (spaces.Discrete, spaces.MultiDiscrete))):
        shape = f"of shape {np.shape(raw)}" if not flattened(space) else "that flattens"
        declared = space_summary(space) if space is not None else "its space"
        raise BadEnvOutput(f"an observation {shape} ({flat.size} values) where {declared} declares {size}")
    obs_row[i, : flat.size] = flat


def observation_problem(info: EnvInfo, i: int, raw: Any) -> str | None:
    """What is wrong with agent i's array observation against its declared Box (dtype, shape), or None. The slow
    check, run only once a batch of rows failed to build, to say which agent's observation broke it and how."""
    space = info.obs_spaces[i] if info.obs_spaces else None
    if isinstance(raw, dict) and "observation" in raw:
        raw = raw["observation"]
    if not isinstance(space, spaces.Box):
        return None
    try:
        x = np.asarray(raw)
    except (TypeError, ValueError) as err:
        return f"an observation that is not an array ({type(err).__name__}: {err})"
    if x.dtype.kind not in "biuf":
        return f"an observation of dtype {x.dtype}, not numbers"
    if not np.can_cast(x.dtype, space.dtype, "same_kind"):
        return f"an observation of dtype {x.dtype}, which does not cast to the {space.dtype} of {space_summary(space)}"
    if x.shape != space.shape:
        return f"an observation of shape {x.shape} where its space {space_summary(space)} declares {space.shape}"
    return None


def write_info_mask(info: EnvInfo, i: int, agent_info: Any, mask_row: np.ndarray) -> None:
    """Agent i's action mask from its info dict, where the env puts it there."""
    if isinstance(agent_info, dict) and "action_mask" in agent_info:
        write_mask(info, i, agent_info["action_mask"], mask_row)


def write_mask(info: EnvInfo, i: int, mask: Any, mask_row: np.ndarray) -> None:
    """Agent i's action mask into its row; BadEnvOutput unless it has one entry per action. A factorised
    (MultiDiscrete) action's mask is a tuple or list of per-component masks (Gymnasium's convention) or their flat
    concatenation; each component's entries go to that component's padded columns."""
    mask = flat_mask(mask)
    if mask.size != info.action_sizes[i]:
        raise BadEnvOutput(f"an action mask of {mask.size} entries where its action space has "
                           f"{info.action_sizes[i]} actions")
    if info.action_nvecs:
        mask_row[i, np.concatenate(info.component_columns(i))] = mask.astype(bool)
    else:
        mask_row[i, : mask.size] = mask.astype(bool)


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
        except (ValueError, TypeError, KeyError, IndexError) as err:  # a row of the wrong size or structure
            raise MARLError("bad-observation", f"agent '{agent}''s observation does not fit this policy: {err}",
                            f"it was trained on '{info.env_id}' ({info.obs_sizes[index[agent]]} values)") from None
        present[index[agent]] = True
    if obs.dtype.kind == "f" and not np.isfinite(obs).all():
        agent = info.agents[int(np.argwhere(~np.isfinite(obs))[0][0])]
        raise MARLError("bad-observation", f"agent '{agent}''s observation holds NaN or infinite values",
                        "a policy cannot act on them: check the env")
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
