"""What a trained CommNet says: every message of deterministic episodes written to .npz (`marl eval --messages`),
with how much of the hidden information (the speaker's goal colour, say) the messages carry."""
from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import torch

from algorithms.commnet import CommNet
from algorithms.core.checkpoint import atomic_write_bytes
from algorithms.core.env_registry import make_vec_env
from algorithms.core.tensors import to_numpy, to_tensor
from algorithms.errors import MARLError

# ---------------------------------------------------------------------------------------------------
# The message channel, for people: what the agents say, and how much it depends on hidden information

# env name -> {agent index: slice of that agent's observation holding information its peers lack}.
# Both slices are a landmark colour with one dominant channel, so argmax gives the landmark.
HIDDEN_INFO = {
    "simple_speaker_listener": ({0: slice(0, 3)}, "the speaker's goal colour (argmax of its obs[0:3])"),
    "silent_speaker_listener": ({0: slice(0, 3)}, "the speaker's goal colour (argmax of its obs[0:3])"),
    "simple_reference": ({0: slice(8, 11), 1: slice(8, 11)}, "the other agent's goal colour (argmax of obs[8:11])"),
}


def dump_messages(algo: CommNet, env_id: str, env_kwargs: dict[str, Any] | None, episodes: int, seed: int,
                  path: str | Path) -> dict[str, Any]:
    """Play `episodes` deterministic episodes on one env copy and write every message to `path` (.npz):

        sent      float32 [S, N, R, H]  hidden state agent n broadcasts in round r (S steps, R = comm_steps)
        received  float32 [S, N, R, H]  the mean of the other live agents' `sent` that agent n hears
        alive     bool    [S, N]        agents in the episode (only these send)
        obs       float32 [S, N, obs_dim], action [S, N, ...], episode int [S], t int [S]
        label     int     [S, N]        hidden information per sender (HIDDEN_INFO), -1 where none is known

    Returns a summary. `messages`: per agent and round, the total variance of what it sends, the share of
    that variance explained by its hidden label (between-label / total, "eta squared") and the accuracy of
    decoding the label from the message (nearest centroids fitted on even episodes, tested on odd ones).
    `influence`: per agent with hidden information, how far its peers' action distributions move (total
    variation, 0 to 1) when, at the same step, that agent alone is shown another landmark colour: what the
    channel carries that the others act on (0 without communication; the env's own channel acts a step later)."""
    if not isinstance(algo, CommNet):
        raise MARLError("no-messages", f"{type(algo).__name__} has no learnt message channel",
                           "message dumps need a run trained with `marl train commnet ...`")
    if episodes < 2:
        raise MARLError("bad-episodes", f"message dumps need at least 2 episodes, got {episodes}",
                           "decoding is fitted on even episodes and tested on odd ones")
    envs = make_vec_env(env_id, env_kwargs, num_envs=1)
    if (envs.info.n_agents, envs.info.obs_dim) != (algo.info.n_agents, algo.info.obs_dim):
        envs.close()
        raise MARLError("env-mismatch", f"'{env_id}' does not match the env this CommNet was trained on "
                           f"('{algo.info.env_id}')", "dump messages on the run's own env and env kwargs")
    slices, described = _hidden_info(env_id)
    rows: dict[str, list] = {k: [] for k in ("sent", "received", "alive", "obs", "action", "episode", "t")}
    moves = {i: [] for i in slices}  # per sender: how far its peers' policies move with its hidden info
    step, memory, done, t = envs.reset(seed=seed), algo.initial_memory(1), 0, 0
    with torch.no_grad():
        while done < episodes:
            obs, _, mask, alive = algo._tensors(step)
            record: list = []
            h_in = memory[0] if memory else None
            features, h_actor = algo.actor.torso(algo._actor_in(obs, alive), h_in, record)
            dist = algo._dist(features, mask)
            action = dist.mode()
            for i, sl in slices.items():  # counterfactual: agent i sees another landmark colour (one step only)
                other = obs.clone()
                other[0, i, sl] = other[0, i, sl].roll(1)
                moved = _policy_distance(dist, algo._dist(algo.actor.torso(algo._actor_in(other, alive), h_in)[0], mask))
                peers = to_tensor(step.active[0], algo.device).clone()  # indexes `moved`, on the device
                peers[i] = False
                moves[i] += moved[0][peers].tolist()
            memory = (h_actor, memory[1]) if memory else None

            def rounds(i: int) -> np.ndarray:  # [N, R, H]: what each agent sent (i=0) or heard (i=1) per round
                if not record:  # comm_steps=0
                    return np.zeros((algo.info.n_agents, 0, algo.config.hidden_size), np.float32)
                return to_numpy(torch.stack([r[i][0] for r in record], dim=-2))

            # Tensors come off the device here; the rest is already NumPy (or a Python int).
            for key, value in (("sent", rounds(0)), ("received", rounds(1)), ("alive", step.alive[0]),
                               ("obs", step.obs[0]), ("action", to_numpy(action[0])), ("episode", done), ("t", t)):
                rows[key].append(np.asarray(value))
            step = envs.step(to_numpy(algo._env_actions(action)))
            memory = algo.reset_memory(memory, step.episode_end)
            t += 1
            if step.episode_end[0]:
                done, t = done + 1, 0
    envs.close()
    data = {k: np.stack(v) for k, v in rows.items()}
    data["label"] = np.full(data["alive"].shape, -1, np.int64)
    for agent, sl in slices.items():
        data["label"][:, agent] = data["obs"][:, agent, sl].argmax(-1)
    path = Path(path)
    try:
        buffer = io.BytesIO()  # a file object: np.savez would append .npz to any other suffix
        np.savez_compressed(buffer, **data)
        atomic_write_bytes(path, buffer.getvalue())  # whole or not at all
    except OSError as err:
        raise MARLError("cannot-write", f"cannot write the messages to {path} ({err.strerror})",
                           "choose a writable file path, e.g. messages.npz") from None
    return {"file": str(path), "steps": len(data["t"]), "episodes": episodes, "comm_steps": algo.config.comm_steps,
            "hidden_info": described, "messages": _variation(data, algo.info.agents),
            "influence": {algo.info.agents[i]: float(np.mean(f)) if f else 0.0 for i, f in moves.items()}}


def _policy_distance(p, q) -> torch.Tensor:
    """[K, N] in [0, 1]: total variation between categoricals; for Gaussians, half the mean absolute change
    of the clipped mean action over the agent's real dimensions (both 0 when nothing changes)."""
    if hasattr(p, "mask"):
        return 0.5 * (p.dist.probs - q.dist.probs).abs().sum(-1)
    change = 0.5 * (p.mode().clamp(-1, 1) - q.mode().clamp(-1, 1)).abs() * p.dim_mask
    return change.sum(-1) / p.dim_mask.sum(-1).clamp(min=1.0)


def _hidden_info(env_id: str) -> tuple[dict[int, slice], str]:
    for name, (slices, described) in HIDDEN_INFO.items():
        if name in env_id:
            return slices, described
    return {}, "none known for this env (only total variances are reported)"


def _variation(data: dict[str, np.ndarray], agents: tuple[str, ...]) -> dict[str, list[dict[str, float]]]:
    out: dict[str, list[dict[str, float]]] = {}
    odd = data["episode"] % 2 == 1
    for i, agent in enumerate(agents):
        live, label = data["alive"][:, i], data["label"][:, i]
        out[agent] = []
        for r in range(data["sent"].shape[2]):
            msg = data["sent"][live, i, r].astype(np.float64)  # [S_live, H]
            total = float(((msg - msg.mean(0)) ** 2).sum(-1).mean()) if len(msg) else 0.0
            entry = {"round": r + 1, "total_variance": total}
            classes = np.unique(label[live])
            if (label[live] >= 0).all() and len(classes) > 1:
                lab = label[live]
                means = {c: msg[lab == c].mean(0) for c in classes}
                between = float(np.mean([((means[c] - msg.mean(0)) ** 2).sum() for c in lab]))
                entry["explained_by_hidden"] = between / total if total > 0 else 0.0
                entry["decoding_accuracy"] = _nearest_centroid(msg, lab, odd[live])
                entry["chance"] = float(np.max(np.bincount(lab)) / len(lab))
            out[agent].append(entry)
    return out


def _nearest_centroid(msg: np.ndarray, label: np.ndarray, test: np.ndarray) -> float:
    train = ~test
    classes = np.unique(label[train])
    if not test.any() or len(classes) == 0:
        return float("nan")
    centroids = np.stack([msg[train & (label == c)].mean(0) for c in classes])  # [C, H]
    guess = classes[((msg[test, None, :] - centroids[None]) ** 2).sum(-1).argmin(-1)]
    return float((guess == label[test]).mean())


