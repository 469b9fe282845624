"""Episode replay for off-policy learners: whole episodes in, padded batches of episodes out.

An episode is a dict of NumPy arrays with time first. Fields seen at every visited state (observations,
global state, action masks) have L + 1 rows, the last being the observation after the final transition
(what truncated episodes bootstrap from); per-transition fields (actions, rewards, terminations) have L.
Sampling pads every episode to the longest in the batch and adds `filled` [B, T]: True on real transitions.

Recency prioritisation (off by default): transitions gathered long ago were generated against older
policies of the *other* agents, so their targets describe a team that no longer exists (the seed's
"experience replay staleness" pitfall; cf. Foerster et al. 2017, "Stabilising Experience Replay for Deep
Multi-Agent RL"). With `half_life > 0`, an episode's sampling weight is 0.5 ** (age / half_life), where age
counts the episodes stored after it; probabilities are the normalised weights.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch

from algorithms.core.tensors import to_tensor


class EpisodeReplay:
    """A ring buffer of up to `capacity` episodes; the oldest is evicted first."""

    def __init__(self, capacity: int, half_life: float = 0.0):
        if capacity < 1:
            raise ValueError(f"capacity must be at least 1, got {capacity}")
        self.capacity, self.half_life = capacity, half_life
        self.episodes: list[dict[str, np.ndarray]] = []
        self.ids: list[int] = []  # insertion number of the episode in each slot
        self.added = 0            # episodes ever added
        self.next_slot = 0

    def __len__(self) -> int:
        return len(self.episodes)

    def add(self, episode: dict[str, np.ndarray]) -> None:
        if len(self.episodes) < self.capacity:
            self.episodes.append(episode)
            self.ids.append(self.added)
        else:
            self.episodes[self.next_slot] = episode
            self.ids[self.next_slot] = self.added
        self.next_slot = (self.next_slot + 1) % self.capacity
        self.added += 1

    def projected_bytes(self) -> int:
        """Memory the buffer will hold once full, if later episodes are like the ones stored so far."""
        if not self.episodes:
            return 0
        stored = sum(a.nbytes for episode in self.episodes for a in episode.values())
        return int(stored / len(self.episodes) * self.capacity)

    def probabilities(self) -> np.ndarray:
        """[len] sampling probability of each stored episode (uniform unless recency-prioritised)."""
        if not self.episodes:
            raise ValueError("the replay buffer is empty")
        if self.half_life <= 0:
            return np.full(len(self.episodes), 1.0 / len(self.episodes))
        age = (self.added - 1) - np.asarray(self.ids, np.float64)  # 0 for the newest episode
        weights = 0.5 ** (age / self.half_life)
        return weights / weights.sum()

    def sample(self, batch_size: int) -> dict[str, np.ndarray]:
        """`batch_size` episodes (distinct while the buffer holds enough), padded: arrays [B, T(+1), ...]."""
        probs = to_tensor(self.probabilities(), "cpu")  # only indices come out: the episodes are NumPy, on the CPU
        idx = torch.multinomial(probs, batch_size, replacement=batch_size > len(self.episodes)).tolist()
        return pad_episodes([self.episodes[i] for i in idx])

    def state_dict(self) -> dict[str, Any]:
        return {"episodes": self.episodes, "ids": self.ids, "added": self.added, "next_slot": self.next_slot}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.episodes, self.ids = list(state["episodes"]), list(state["ids"])
        self.added, self.next_slot = state["added"], state["next_slot"]


def episode_length(episode: dict[str, np.ndarray]) -> int:
    return min(len(a) for a in episode.values())


def pad_episodes(episodes: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Stack episodes of different lengths, zero-padding each field to the longest; adds `filled` [B, T]."""
    lengths = np.asarray([episode_length(e) for e in episodes])
    longest = int(lengths.max())
    if (lengths == longest).all():  # fixed-length episodes (MPE): nothing to pad
        return {**{key: np.stack([e[key] for e in episodes]) for key in episodes[0]},
                "filled": np.ones((len(episodes), longest), bool)}
    out: dict[str, np.ndarray] = {}
    for key, first in episodes[0].items():
        extra = len(first) - lengths[0]  # 1 for per-state fields, 0 for per-transition fields
        arr = np.zeros((len(episodes), longest + extra, *first.shape[1:]), first.dtype)
        for b, episode in enumerate(episodes):
            arr[b, : len(episode[key])] = episode[key]
        out[key] = arr
    out["filled"] = np.arange(longest)[None, :] < lengths[:, None]
    return out


class EpisodeBuilder:
    """The episodes in progress on K env copies, written with one vectorised assignment per step.

    `add` records what was seen at the step's start (`at`: obs, state, masks: [K, ...]) and the
    transition taken from it (action, reward, terminated: [K, ...]). `finish` closes the episodes of
    the copies in `which` with the observation after their last transition and returns them.
    An episode reaching `max_len` transitions must be finished (`full()`), and continues in a new chunk.
    """

    def __init__(self, num_envs: int, max_len: int):
        self.num_envs, self.max_len = num_envs, max_len
        self.pos = np.zeros(num_envs, np.int64)  # [K] transitions written in each copy's episode
        self.at: dict[str, np.ndarray] = {}           # key -> [K, max_len + 1, ...]
        self.transition: dict[str, np.ndarray] = {}   # key -> [K, max_len, ...]

    def _write(self, store: dict[str, np.ndarray], fields: dict[str, np.ndarray], rows: int) -> None:
        k = np.arange(self.num_envs)
        for key, value in fields.items():
            value = np.asarray(value)
            if key not in store:
                store[key] = np.zeros((self.num_envs, rows, *value.shape[1:]), value.dtype)
            store[key][k, self.pos] = value

    def add(self, at: dict[str, np.ndarray], transition: dict[str, np.ndarray]) -> None:
        if (self.pos >= self.max_len).any():
            raise RuntimeError("an episode reached max_len: finish() the full copies first")
        self._write(self.at, at, self.max_len + 1)
        self._write(self.transition, transition, self.max_len)
        self.pos += 1

    def full(self) -> np.ndarray:
        return self.pos >= self.max_len

    def finish(self, which: np.ndarray, last: dict[str, np.ndarray]) -> list[dict[str, np.ndarray]]:
        rows = np.flatnonzero(which)
        for key, value in last.items():
            self.at[key][rows, self.pos[rows]] = np.asarray(value)[rows]
        episodes = []
        for k in rows:  # only copies whose episode ended: each becomes one stored episode
            n = int(self.pos[k])
            episode = {key: arr[k, : n + 1].copy() for key, arr in self.at.items()}
            episode.update({key: arr[k, :n].copy() for key, arr in self.transition.items()})
            episodes.append(episode)
        self.pos[rows] = 0
        return episodes

    def state_dict(self) -> dict[str, Any]:
        return {"pos": self.pos.copy(), "at": {k: v.copy() for k, v in self.at.items()},
                "transition": {k: v.copy() for k, v in self.transition.items()}}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.pos, self.at, self.transition = state["pos"].copy(), dict(state["at"]), dict(state["transition"])
