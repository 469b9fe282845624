"""Factorised discrete actions (MultiDiscrete, MultiBinary): their sizes from the env's spaces, one agent's padded
action in the env's own format, per-component views of a [..., action_dim] row, and the one Discrete over every
combination that the value learners flatten them to (`JointActions`).

A factorised action is C component values; EnvInfo lays its logits, one-hots and masks out as the C components'
padded choices side by side ([..., sum(components)]), and the actions themselves as [..., C] integers.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np
from gymnasium import spaces

from algorithms.core.vec_env import EnvInfo
from algorithms.errors import MARLError

# The most combinations of one agent's components the value learners (IQL, VDN, QMIX, QPLEX) flatten into one
# Discrete: their networks have one output per combination (1,024 = 10 binary components, or 8 x 8 x 16).
JOINT_ACTION_LIMIT = 1024
FACTORISED = (spaces.MultiDiscrete, spaces.MultiBinary)


def component_sizes(env_id: str, agents: Sequence[str], act_spaces: Sequence[spaces.Space]
                    ) -> tuple[tuple[tuple[int, ...], ...], str]:
    """(each agent's component sizes, the env's integer dtype) of MultiDiscrete / MultiBinary action spaces;
    MultiBinary(n) is n components of 2. MARLError unless they are 1-D, start at 0 and every agent has as many."""
    nvecs = []
    for agent, space in zip(agents, act_spaces):
        shape = np.shape(space.nvec) if isinstance(space, spaces.MultiDiscrete) else space.shape
        if len(shape) != 1 or np.any(getattr(space, "start", 0) != 0):
            raise MARLError("unsupported-action-space", f"'{env_id}': agent '{agent}' acts in {space}",
                            "supported: 1-D MultiDiscrete starting at 0, and 1-D MultiBinary; wrap the env to "
                            "flatten the nvec or shift the values to 0")
        nvecs.append(tuple(int(n) for n in space.nvec) if isinstance(space, spaces.MultiDiscrete) else (2,) * shape[0])
    if len({len(v) for v in nvecs}) > 1:
        counts = ", ".join(f"{a}: {len(v)}" for a, v in zip(agents, nvecs))
        raise MARLError("unsupported-action-space", f"'{env_id}': agents' actions have different numbers of "
                        f"components ({counts})", "every agent's MultiDiscrete / MultiBinary needs as many components")
    return tuple(nvecs), str(act_spaces[0].dtype)


def flat_mask(mask: Any) -> np.ndarray:
    """A factorised action's mask as one flat array: a tuple or list of per-component masks (Gymnasium's
    MultiDiscrete convention; MultiBinary(n): n masks of 2) concatenated, or their flat concatenation as it is."""
    if isinstance(mask, (tuple, list)) and mask and np.ndim(mask[0]) > 0:
        return np.concatenate([np.asarray(m).reshape(-1) for m in mask])
    return np.asarray(mask).reshape(-1)


def env_action(info: EnvInfo, i: int, action: np.ndarray) -> Any:
    """Agent i's padded action as its env takes it: an int (discrete), an array of the space's integer dtype
    (multi_discrete), or the unpadded Box vector (continuous)."""
    if info.action_kind == "discrete":
        return int(action)
    if info.action_kind == "multi_discrete":
        return np.asarray(action).astype(info.action_dtype).reshape(-1)
    return np.asarray(action, np.float32).reshape(-1)[: info.action_sizes[i]]


def split_components(x, info: EnvInfo) -> list:
    """A [..., action_dim] NumPy array or tensor as one piece per component (one piece for discrete actions)."""
    sizes = info.action_components
    if not isinstance(x, np.ndarray):
        return list(x.split(sizes, -1))
    return np.split(x, np.cumsum(sizes)[:-1], axis=-1)


class JointActions:
    """Factorised actions as one Discrete, for the value learners: agent i's joint index is
    np.ravel_multi_index of its component values over its own sizes, padded to the largest agent's number of
    combinations (padded indices are never allowed). For other action kinds every method is the identity.
    MARLError above JOINT_ACTION_LIMIT combinations."""

    def __init__(self, info: EnvInfo, algorithm: str):
        self.info, self.factorised = info, info.action_kind == "multi_discrete"
        if not self.factorised:
            self.size, self.real = info.action_dim, info.real_actions
            return
        counts = [int(np.prod(v)) for v in info.action_nvecs]
        worst = int(np.argmax(counts))
        if counts[worst] > JOINT_ACTION_LIMIT:
            sizes = " x ".join(map(str, info.action_nvecs[worst]))
            raise MARLError("too-many-joint-actions",
                            f"{algorithm} learns one value per combination of an agent's action components, and "
                            f"'{info.env_id}' gives {info.agents[worst]} {counts[worst]:,} ({sizes}): more than "
                            f"the {JOINT_ACTION_LIMIT:,} it flattens",
                            "train a PPO-family algorithm (mappo, ippo), which has one head per component, or maddpg")
        self.size = max(counts)                                                     # padded combinations
        self.real = np.arange(self.size)[None, :] < np.asarray(counts)[:, None]     # [N, size]
        # Agents sharing one set of sizes are converted together: (sizes, their rows, each component's mask columns).
        rows = {nvec: [i for i, v in enumerate(info.action_nvecs) if v == nvec] for nvec in sorted(set(info.action_nvecs))}
        self.groups = [(nvec, agents, info.component_columns(agents[0])) for nvec, agents in rows.items()]

    def mask(self, mask: np.ndarray) -> np.ndarray:
        """[..., N, action_dim] masks per component -> [..., N, size]: a combination is allowed when each of
        its component values is (the outer product of the component masks)."""
        if not self.factorised:
            return mask
        out = np.zeros((*mask.shape[:-1], self.size), bool)
        for _, rows, columns in self.groups:
            own = mask[..., rows, :]
            joint = own[..., columns[0]]
            for cols in columns[1:]:
                joint = (joint[..., :, None] & own[..., None, cols]).reshape(*joint.shape[:-1], -1)
            out[..., rows, : joint.shape[-1]] = joint
        return out

    def components(self, joint: np.ndarray) -> np.ndarray:
        """[..., N] joint indices -> [..., N, C] component values (a padded index, which only an agent with no
        allowed action can get, becomes its last combination)."""
        if not self.factorised:
            return joint
        out = np.zeros((*joint.shape, len(self.info.action_components)), np.int64)
        for nvec, rows, _ in self.groups:
            index = np.minimum(joint[..., rows], int(np.prod(nvec)) - 1)
            out[..., rows, :] = np.stack(np.unravel_index(index, nvec), -1)
        return out
