"""Evaluate a policy: per-agent episode returns over a fixed number of episodes, optionally rendered."""
from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np

from algorithms.errors import MARLError
from algorithms.base import Algorithm
from algorithms.core.checkpoint import atomic_write_bytes
from algorithms.core.metrics import team_returns
from algorithms.core.reference_policies import FixedPolicy, has_noop
from algorithms.core.vec_env import EnvInfo
from algorithms.core.env_registry import make_vec_env


def _copies_for(episodes: int, limit: int = 16) -> int:
    """The largest K <= limit dividing `episodes`, so each copy plays the same number of episodes
    (taking the first N to finish would favour short episodes)."""
    return max(k for k in range(1, min(limit, episodes) + 1) if episodes % k == 0)


def evaluate(algo: Algorithm, env_id: str, env_kwargs: dict[str, Any], episodes: int, deterministic: bool,
             seed: int, references: bool = False) -> dict[str, Any]:
    """Per-agent returns of `algo` over `episodes` episodes. With `references`, also those of uniformly
    random play and (where the env has one) doing nothing, over the same episodes (same reset seed):
    result["references"] = {"random": {"mean", "std"}, "noop": ...}."""
    summary = summarise(play_episodes(algo, env_id, env_kwargs, episodes, deterministic, seed), algo.info.agents,
                        deterministic, getattr(algo, "teams", None))
    if references:
        summary["references"] = reference_returns(algo.info, env_id, env_kwargs, episodes, seed)
    return summary


def reference_returns(info: EnvInfo, env_id: str, env_kwargs: dict[str, Any], episodes: int, seed: int
                      ) -> dict[str, dict[str, float]]:
    """Mean per-agent return (and the spread of the per-episode agent mean) of the reference policies."""
    kinds = ("random", "noop") if has_noop(env_id) else ("random",)
    out = {}
    for kind in kinds:
        played = summarise(play_episodes(FixedPolicy(info, kind, seed), env_id, env_kwargs, episodes, True, seed),
                           info.agents, True)
        out[kind] = {"mean": played["return_mean"], "std": played["return_std"],
                     "per_agent": {a: v["mean"] for a, v in played["per_agent"].items()}}
    return out


def beats_random(result: dict[str, Any]) -> bool | None:
    """Whether an evaluation with references beats random play: its all-agent mean return, or (in games
    where agents' rewards pull apart) at least one agent's own return. None without references."""
    random = result.get("references", {}).get("random")
    if random is None:
        return None
    if result["return_mean"] > random["mean"]:
        return True
    return any(result["per_agent"][a]["mean"] > m for a, m in random["per_agent"].items())


def play_episodes(policy: Any, env_id: str, env_kwargs: dict[str, Any], episodes: int, deterministic: bool,
                  seed: int) -> list[tuple[np.ndarray, int]]:
    """(per-agent returns, length) of `episodes` episodes of `policy` (anything with the Algorithm acting
    interface). K copies play the same number of episodes each, from `envs.reset(seed)`."""
    if episodes < 1:
        raise MARLError("bad-episodes", f"--episodes must be at least 1, got {episodes}")
    k = _copies_for(episodes)
    envs = make_vec_env(env_id, env_kwargs, num_envs=k)
    quota = episodes // k
    per_copy: list[list[tuple[np.ndarray, int]]] = [[] for _ in range(k)]
    step = envs.reset(seed=seed)
    memory = policy.initial_memory(k)
    while min(len(done) for done in per_copy) < quota:
        actions, memory = policy.act(step, memory, deterministic)
        step = envs.step(actions)
        memory = policy.reset_memory(memory, step.episode_end)
        for copy, returns, length in step.finished:
            per_copy[copy].append((returns, length))
    envs.close()
    return [ep for done in per_copy for ep in done[:quota]]


def summarise(results: list[tuple[np.ndarray, int]], agents: tuple[str, ...], deterministic: bool,
              teams: dict[str, list[str]] | None = None) -> dict[str, Any]:
    """Per-agent returns; with `teams` (team -> member agents, from a team-mode algorithm) also each team's
    return, the mean over its members per episode."""
    returns = np.stack([r for r, _ in results])  # [episodes, N]
    summary = {
        "episodes": len(results),
        "deterministic": deterministic,
        "return_mean": float(returns.mean()),          # mean over agents and episodes
        "return_std": float(returns.mean(axis=1).std()),  # spread of the per-episode agent mean
        "episode_length": float(np.mean([length for _, length in results])),
        "per_agent": {a: {"mean": float(returns[:, i].mean()), "std": float(returns[:, i].std())}
                      for i, a in enumerate(agents)},
    }
    if teams:
        summary["per_team"] = {t: {"agents": list(teams[t]), "mean": float(r.mean()), "std": float(r.std())}
                               for t, r in team_returns(returns, agents, teams).items()}
    return summary


def render_gif(algo: Algorithm, env_id: str, env_kwargs: dict[str, Any], out: Path, deterministic: bool,
               seed: int, max_frames: int = 500) -> int:
    """Play one episode with render_mode='rgb_array' and write the frames as an animated GIF."""
    from PIL import Image

    envs = make_vec_env(env_id, env_kwargs, num_envs=1, render_mode="rgb_array")
    step = envs.reset(seed=seed)
    memory = algo.initial_memory(1)
    frames = [envs.render()]
    while len(frames) < max_frames:
        actions, memory = algo.act(step, memory, deterministic)
        step = envs.step(actions)
        if step.episode_end[0]:
            break
        frames.append(envs.render())
    envs.close()
    frames = [f for f in frames if f is not None]
    if not frames:
        raise MARLError("no-render", f"'{env_id}' returned no rgb_array frames", "does it support render_mode='rgb_array'?")
    images = [Image.fromarray(np.asarray(f, dtype=np.uint8)) for f in frames]
    gif = io.BytesIO()
    images[0].save(gif, format="GIF", save_all=True, append_images=images[1:], duration=100, loop=0)
    atomic_write_bytes(Path(out), gif.getvalue())  # whole or not at all
    return len(images)
