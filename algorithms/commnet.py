"""CommNet: agents talk through a learnt, differentiable channel (Sukhbaatar et al. 2016,
"Learning Multiagent Communication with Backpropagation"), trained with PPO on MAPPO's on-policy loop.

Every agent encodes its own observation (and agent id) into a hidden state h0 (optionally through a GRU
over time). Then, for each of `comm_steps` communication steps k, agent j receives the mean of the
other agents' hidden states, c_k = mean_{j' != j, alive} h_k[j'], and updates
    h_{k+1}[j] = h_k[j] + ReLU(H_k h_k[j] + C_k c_k[j])
with H_k, C_k shared by all agents (so the module is permutation equivariant). The policy head reads
the final state. The critic is a second CommNet of the same shape giving each agent its own value from
its observation plus messages (no global state), so `comm_steps=0` is exactly IPPO with the same networks:
the ablation removes CommNet's channel from actor and critic, and nothing else.

Agents no longer in the episode (the Step's `alive` mask) send nothing; an agent with no live peer
receives zeros. To carry `alive` through MAPPO's unchanged collect/update loop, observations enter
this algorithm with the alive flag appended as one extra last column (see `_tensors`).
Read top to bottom: config, the communication module, the algorithm, the message dump.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from pettingzoo.utils.wrappers import BaseParallelWrapper
from torch import nn

from algorithms.errors import MARLError
from algorithms.core.networks import AgentLinear, Torso
from algorithms.core.tensors import to_numpy, to_tensor
from algorithms.core.vec_env import Step, VecEnv
from algorithms.core.env_registry import make_vec_env
from algorithms.mappo import MAPPO, PPOConfig


@dataclass
class CommNetConfig(PPOConfig):
    """CommNet on MAPPO's PPO machinery; every PPO field keeps PPOConfig's default and meaning (the settings the
    CommNet figures (docs/commnet.md) were measured with; not re-tuned with MAPPO's newer defaults)."""

    action_spaces = frozenset({"discrete", "continuous"})
    reward_settings = frozenset({"cooperative"})
    policy_type = "on-policy"
    needs_state = False

    comm_steps: int = 2
    """Communication rounds per env step (the paper: 2); 0 removes the channel (the ablation: IPPO)."""
    centralised_critic: bool = False
    """False: each agent's value comes from a communicating CommNet critic; true: MAPPO's critic on the global state."""

    def validate(self) -> None:
        super().validate()
        if self.comm_steps < 0:
            raise MARLError("bad-config-value", f"'comm_steps' must be 0 or more, got {self.comm_steps}")
        if not self.share_parameters:
            raise MARLError("bad-config-value", "CommNet shares its parameters across agents",
                               "leave share_parameters=true; the agent-id input tells agents apart")


# ---------------------------------------------------------------------------------------------------
# The communication module: inputs [..., N, features + 1], the last column being the alive flag


def mean_of_others(h: torch.Tensor, alive: torch.Tensor) -> torch.Tensor:
    """c[j] = mean of h[j'] over live agents j' != j; zeros when j has no live peer. h [..., N, H], alive [..., N]."""
    a = alive.unsqueeze(-1).to(h.dtype)
    total = (h * a).sum(dim=-2, keepdim=True) - h * a   # every live agent's state but one's own
    count = a.sum(dim=-2, keepdim=True) - a
    return total / count.clamp(min=1.0)


class CommNetTorso(nn.Module):
    """Encoder (MLP, optional GRU across time) then `comm_steps` rounds of mean-of-others messages.
    Same interface as core.networks.Torso, so MAPPO's actor and critic can hold it."""

    def __init__(self, in_features: int, hidden: int, layers: int, recurrent: bool, comm_steps: int):
        super().__init__()
        self.encoder = Torso(in_features, hidden, layers, None, recurrent)
        self.own = nn.ModuleList(AgentLinear(hidden, hidden, None) for _ in range(comm_steps))
        self.heard = nn.ModuleList(AgentLinear(hidden, hidden, None) for _ in range(comm_steps))
        self.hidden = hidden

    def communicate(self, h: torch.Tensor, alive: torch.Tensor, record: list | None = None) -> torch.Tensor:
        """h [..., N, H] -> h after every round; `record` collects (sent, received) per round."""
        for own, heard in zip(self.own, self.heard):
            c = mean_of_others(h, alive)
            if record is not None:
                record.append((h, c))
            h = h + torch.relu(own(h) + heard(c))  # residual: comm_steps=0 and >0 start on the same scale
        return h

    def forward(self, x: torch.Tensor, h: torch.Tensor | None, record: list | None = None):
        features, h = self.encoder(x[..., :-1], h)
        return self.communicate(features, x[..., -1] > 0.5, record), h

    def forward_sequence(self, x: torch.Tensor, h0: torch.Tensor | None, starts: torch.Tensor) -> torch.Tensor:
        features = self.encoder.forward_sequence(x[..., :-1], h0, starts)  # [T, B, N, H]
        return self.communicate(features, x[..., -1] > 0.5)


# ---------------------------------------------------------------------------------------------------
# The algorithm: MAPPO with both torsos replaced by CommNet torsos


class CommNet(MAPPO):
    config: CommNetConfig

    def __init__(self, config: CommNetConfig, envs: VecEnv, device: torch.device):
        super().__init__(config, envs, device)
        info, cfg = self.info, config
        in_features = info.obs_dim + (info.n_agents if cfg.agent_id_input else 0)
        self.actor.torso = CommNetTorso(in_features, cfg.hidden_size, cfg.layers, cfg.recurrent,
                                        cfg.comm_steps).to(device)
        if not cfg.centralised_critic:
            self.critic.torso = CommNetTorso(in_features, cfg.hidden_size, cfg.layers, cfg.recurrent,
                                             cfg.comm_steps).to(device)
        # The torsos changed after MAPPO built its optimisers: build them again over the new parameters.
        self.actor_opt = torch.optim.Adam(self.actor.parameters(), lr=cfg.lr, eps=cfg.adam_eps)
        self.critic_opt = torch.optim.Adam(self.critic.parameters(), lr=cfg.critic_lr, eps=cfg.adam_eps)

    def _tensors(self, step: Step) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """obs [K, N, obs_dim + 1]: the alive flag rides along as the last column, through the rollout buffer."""
        obs, state, mask = super()._tensors(step)
        alive = to_tensor(step.alive, self.device, obs.dtype).unsqueeze(-1)
        return torch.cat([obs, alive], dim=-1), state, mask

    def policy(self, obs: torch.Tensor, mask: torch.Tensor, h_actor: torch.Tensor | None = None):
        """Action distributions from obs [K, N, obs_dim + 1] (alive flag last; `_tensors` builds it):
        unlike MAPPO's, each agent's depends on the others' observations through the channel."""
        return super().policy(obs, mask, h_actor)

    def _actor_in(self, obs: torch.Tensor) -> torch.Tensor:
        return torch.cat([self._with_id(obs[..., :-1]), obs[..., -1:]], dim=-1)  # [..., N, obs + id + alive]

    def _critic_in(self, obs: torch.Tensor, state: torch.Tensor) -> torch.Tensor:
        if self.config.centralised_critic:
            return super()._critic_in(obs, state)
        return self._actor_in(obs)

    def _value(self, obs, state, h_critic):
        if obs.shape[-1] == self.info.obs_dim:
            # A finished episode's final observation (truncation bootstrap) comes without the alive flag:
            # every agent observed there counts as present.
            obs = torch.cat([obs, torch.ones_like(obs[..., :1])], dim=-1)
        return super()._value(obs, state, h_critic)


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
            obs, _, mask = algo._tensors(step)
            record: list = []
            h_in = memory[0] if memory else None
            features, h_actor = algo.actor.torso(algo._actor_in(obs), h_in, record)
            dist = algo._dist(features, mask)
            action = dist.mode()
            for i, sl in slices.items():  # counterfactual: agent i sees another landmark colour (one step only)
                other = obs.clone()
                other[0, i, sl] = other[0, i, sl].roll(1)
                moved = _policy_distance(dist, algo._dist(algo.actor.torso(algo._actor_in(other), h_in)[0], mask))
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
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as f:  # a file object: np.savez would append .npz to any other suffix
            np.savez_compressed(f, **data)
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


# ---------------------------------------------------------------------------------------------------
# An env where only CommNet's channel can carry the goal: speaker-listener with the env's own
# communication removed from the listener's observation (its last 3 entries are zeroed).


class _Deaf(BaseParallelWrapper):
    """Zeroes the listener's view of the speaker's env message (the last 3 entries of its observation)."""

    def _deafen(self, observations: dict) -> dict:
        if "listener_0" in observations:
            observations["listener_0"] = observations["listener_0"].copy()
            observations["listener_0"][-3:] = 0.0
        return observations

    def reset(self, seed=None, options=None):
        observations, infos = self.env.reset(seed=seed, options=options)
        return self._deafen(observations), infos

    def step(self, actions):
        observations, *rest = self.env.step(actions)
        return (self._deafen(observations), *rest)

    def state(self):
        return self.env.state()


def silent_speaker_listener(**kwargs) -> _Deaf:
    """`algorithms.commnet:silent_speaker_listener`: mpe2 simple_speaker_listener_v4 with the listener deaf
    to the speaker's env message, so the goal can only travel through a learnt channel."""
    from mpe2 import simple_speaker_listener_v4

    return _Deaf(simple_speaker_listener_v4.parallel_env(**kwargs))
