"""IQL, VDN, QMIX and QPLEX: one off-policy Q-learner over episodes, the mixer chosen by the config.

Tan 1993 / Tampuu et al. 2017 (IQL: no mixer, each agent learns from its own reward);
Sunehag et al. 2018 (VDN: Q_tot = sum of utilities); Rashid et al. 2018 (QMIX: monotonic mixing network
conditioned on the state); Wang et al. 2021 (QPLEX: duplex dueling, full IGM class). Mixers: core/mixers.py.
Read top to bottom: config, the agent network, acting (epsilon-greedy), collecting episodes into replay,
the TD update (double Q-learning, target networks, optional TD(lambda)), the training loop, saving.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from algorithms.base import (Algorithm, AlgorithmConfig, Callback, require_choice, require_non_negative,
                             require_positive, require_unit_interval)
from algorithms.core.metrics import episode_metrics
from algorithms.core.mixers import make_mixer
from algorithms.core.networks import ACTIVATIONS, AgentLinear, Torso
from algorithms.core.normalization import RunningStd
from algorithms.core.replay import EpisodeBuilder, EpisodeReplay
from algorithms.core.td_targets import lambda_returns
from algorithms.core.tensors import to_numpy, to_tensor
from algorithms.core.vec_env import Step, VecEnv

MIXERS = ("none", "vdn", "qmix", "qplex")


@dataclass
class ValueDecompositionConfig(AlgorithmConfig):
    """Defaults follow EPyMARL's QMIX settings (Papoudakis et al. 2021) unless a field says otherwise."""

    action_spaces = frozenset({"discrete"})
    reward_settings = frozenset({"cooperative"})
    policy_type = "off-policy"
    needs_state = True

    mixer: str = "qmix"
    """How utilities combine: none (IQL, each agent its own reward), vdn (sum), qmix (monotonic), qplex (duplex dueling)."""
    rollout_steps: int = 25
    """Steps taken on every env copy between updates."""
    updates_per_iteration: int = 0
    """Gradient steps after each collection (each on `batch_size` episodes). 0: one per episode (or
    `max_episode_len` chunk) stored by that collection, EPyMARL's schedule whatever the copy count."""
    batch_size: int = 32
    """Episodes per gradient step; updates start once the buffer holds this many."""
    buffer_size: int = 5000
    """Episodes kept in replay; the oldest is evicted first."""
    recency_half_life: float = 0.0
    """0: uniform replay (default). Else an episode's sampling weight halves every this many newer episodes."""
    max_episode_len: int = 200
    """Longer (or endless) episodes are stored as chunks of this many steps."""
    hidden_size: int = 64
    """Width of the agent network's hidden layers (EPyMARL: 64)."""
    layers: int = 2
    """Hidden layers of the agent MLP (before the optional GRU)."""
    activation: str = "relu"
    """Hidden-layer activation of the agent network: relu or tanh."""
    recurrent: bool = False
    """Add a GRU over the episode (the paper's DRQN agent). Deviation: off by default, MPE is fully observed and MLPs are faster."""
    share_parameters: bool = True
    """One agent network for all agents (agent-id input tells them apart); false: weights per agent."""
    agent_id_input: bool = True
    """Append a one-hot agent id to the agent network's input."""
    mixing_embed: int = 32
    """Width of QMIX's mixing layer and QPLEX's attention embedding (the paper: 32)."""
    hypernet_hidden: int = 64
    """Hidden width of the hypernetworks that read the state (the paper: 64)."""
    qplex_heads: int = 4
    """Attention heads of QPLEX's lambda weights (the paper: 4)."""
    lr: float = 5e-4
    """Adam learning rate."""
    gamma: float = 0.95
    """Discount factor. Deviation (EPyMARL: 0.99): on simple_spread QMIX held -21.7 per agent at 200k env steps
    with 0.95 against -23.5 with 0.99 (3 seeds, docs/defaults.md)."""
    td_lambda: float = 0.0
    """0: one-step TD targets; in (0, 1]: TD(lambda) returns over the stored episode."""
    double_q: bool = True
    """Pick next actions with the online network, evaluate them with the target network (van Hasselt et al. 2016)."""
    target_update_interval: int = 200
    """Copy the online networks into the targets every this many gradient steps (when tau = 0)."""
    tau: float = 0.0
    """If > 0, soft target updates target += tau (online - target) after every gradient step instead."""
    epsilon_start: float = 1.0
    """Exploration rate at the start of training (epsilon-greedy)."""
    epsilon_finish: float = 0.05
    """Exploration rate after annealing."""
    epsilon_anneal_steps: int = 50_000
    """Env steps (summed over copies) over which epsilon falls linearly from start to finish."""
    max_grad_norm: float = 10.0
    """Gradient-norm clip."""
    standardise_rewards: bool = True
    """Standardise rewards with their running mean and standard deviation before computing targets (EPyMARL's MPE
    setting). On simple_spread QMIX at 100k env steps: -21.0 per agent with it, -25.0 without (docs/defaults.md)."""

    def validate(self) -> None:
        require_positive(self, "rollout_steps", "batch_size", "buffer_size",
                         "max_episode_len", "hidden_size", "layers", "mixing_embed", "hypernet_hidden",
                         "qplex_heads", "lr", "target_update_interval", "max_grad_norm")
        require_choice(self, "activation", ACTIVATIONS)
        require_choice(self, "mixer", MIXERS)
        require_unit_interval(self, "gamma", "td_lambda", "tau", "epsilon_start", "epsilon_finish")
        require_non_negative(self, "recency_half_life", "epsilon_anneal_steps", "updates_per_iteration")


@dataclass
class QMIXConfig(ValueDecompositionConfig):
    """QMIX: the base defaults."""


@dataclass
class QPLEXConfig(ValueDecompositionConfig):
    """QPLEX: duplex dueling mixer."""

    mixer: str = "qplex"
    """Duplex dueling mixer with attention lambda weights."""


@dataclass
class VDNConfig(ValueDecompositionConfig):
    """VDN: the team value is the sum of utilities, so no global state is needed."""

    needs_state = False

    mixer: str = "vdn"
    """Additive mixer."""


@dataclass
class IQLConfig(ValueDecompositionConfig):
    """IQL: each agent learns its own Q from its own observation and reward (any reward setting)."""

    reward_settings = frozenset({"cooperative", "competitive", "mixed"})
    needs_state = False

    mixer: str = "none"
    """No mixer: agent i's TD error uses only agent i's observations, actions and rewards."""


# ---------------------------------------------------------------------------------------------------
# The agent network: agents are a tensor axis; inputs [..., N, features] -> utilities [..., N, A]


class AgentQNet(nn.Module):
    def __init__(self, in_features: int, cfg: ValueDecompositionConfig, n_actions: int, n_agents: int):
        super().__init__()
        per_agent = None if cfg.share_parameters else n_agents
        self.torso = Torso(in_features, cfg.hidden_size, cfg.layers, per_agent, cfg.recurrent, cfg.activation)
        self.head = AgentLinear(cfg.hidden_size, n_actions, per_agent, gain=1.0)


class ValueDecomposition(Algorithm):
    config: ValueDecompositionConfig

    def __init__(self, config: ValueDecompositionConfig, envs: VecEnv, device: torch.device):
        super().__init__(config, envs, device)
        info, n, cfg = self.info, self.info.n_agents, config
        id_dim = n if cfg.agent_id_input else 0
        self.agent = AgentQNet(info.obs_dim + id_dim, cfg, info.action_dim, n).to(device)
        self.mixer = make_mixer(cfg.mixer, n, info.state_dim, info.action_dim, cfg.mixing_embed,
                                cfg.hypernet_hidden, cfg.qplex_heads)
        self.mixer = self.mixer.to(device) if self.mixer is not None else None
        self.target_agent, self.target_mixer = copy.deepcopy(self.agent), copy.deepcopy(self.mixer)
        self.params = list(self.agent.parameters()) + (list(self.mixer.parameters()) if self.mixer is not None else [])
        self.opt = torch.optim.Adam(self.params, lr=cfg.lr)
        self.replay = EpisodeReplay(cfg.buffer_size, cfg.recency_half_life)
        self.builder = EpisodeBuilder(envs.num_envs, cfg.max_episode_len)
        self.reward_std = RunningStd()
        self.agent_ids = torch.eye(n, device=device)  # [N, N]
        self.last: Step | None = None
        self.memory: Any = None
        self.updates = 0  # gradient steps taken
        self.stored = 0   # episodes stored by the latest collection (sets the update count by default)

    def uses_state(self) -> bool:
        return self.config.mixer in ("qmix", "qplex")  # VDN's sum and IQL read no state

    # ------------------------------------------------------------------ utilities

    def _agent_in(self, obs: torch.Tensor) -> torch.Tensor:  # obs [..., N, obs_dim]
        if not self.config.agent_id_input:
            return obs
        return torch.cat([obs, self.agent_ids.expand(*obs.shape[:-2], -1, -1)], dim=-1)

    def q_values(self, obs: torch.Tensor, h: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Each agent's utilities from its own observation only: obs [K, N, obs_dim] -> [K, N, A]."""
        features, h = self.agent.torso(self._agent_in(obs), h)
        return self.agent.head(features), h

    def _q_sequence(self, net: AgentQNet, obs: torch.Tensor) -> torch.Tensor:
        """Utilities over whole episodes: obs [T+1, B, N, obs_dim] -> [T+1, B, N, A] (GRU from zeros)."""
        starts = torch.zeros(obs.shape[:-1], dtype=torch.bool, device=self.device)
        starts[0] = True
        h0 = torch.zeros(*obs.shape[1:-1], self.config.hidden_size, device=self.device)
        return net.head(net.torso.forward_sequence(self._agent_in(obs), h0, starts))

    @staticmethod
    def _valid(mask: torch.Tensor) -> torch.Tensor:
        """Action masks with all-False rows (padding, absent agents) opened, so max/argmax stay finite."""
        return mask | ~mask.any(-1, keepdim=True)

    # ------------------------------------------------------------------ acting

    def epsilon(self) -> float:
        cfg = self.config
        frac = min(self.env_steps / cfg.epsilon_anneal_steps, 1.0) if cfg.epsilon_anneal_steps else 1.0
        return cfg.epsilon_start + frac * (cfg.epsilon_finish - cfg.epsilon_start)

    def select(self, q: torch.Tensor, mask: torch.Tensor, epsilon: float) -> torch.Tensor:
        """Epsilon-greedy over valid actions: q, mask [K, N, A] -> actions [K, N]."""
        valid = self._valid(mask)
        greedy = q.masked_fill(~valid, -torch.inf).argmax(-1)
        if epsilon <= 0:
            return greedy
        uniform = torch.multinomial(valid.flatten(0, -2).float(), 1).view(greedy.shape)
        explore = torch.rand(greedy.shape, device=self.device) < epsilon
        return torch.where(explore, uniform, greedy)

    def initial_memory(self, num_envs: int) -> Any:
        if not self.config.recurrent:
            return None
        return torch.zeros(num_envs, self.info.n_agents, self.config.hidden_size, device=self.device)

    def reset_memory(self, memory: Any, episode_end: np.ndarray) -> Any:
        if memory is None:
            return None
        return memory * to_tensor(~episode_end, self.device, torch.float32)[:, None, None]

    @torch.no_grad()
    def act(self, step: Step, memory: Any, deterministic: bool) -> tuple[np.ndarray, Any]:
        obs = to_tensor(step.obs, self.device)
        q, memory = self.q_values(obs, memory)
        action = self.select(q, to_tensor(step.action_mask, self.device),
                             0.0 if deterministic else self.epsilon())
        return to_numpy(action), memory

    # ------------------------------------------------------------------ collecting episodes into replay

    def begin(self, first: Step) -> None:
        self.last = first
        self.memory = self.initial_memory(self.envs.num_envs)
        self.builder = EpisodeBuilder(self.envs.num_envs, self.config.max_episode_len)

    def has_env_position(self) -> bool:
        return self.last is not None

    @torch.no_grad()
    def collect(self) -> list[tuple[int, np.ndarray, int]]:
        """`rollout_steps` epsilon-greedy steps on every copy; finished episodes go into replay."""
        if self.last is None:
            self.begin(self.envs.reset())
        finished: list[tuple[int, np.ndarray, int]] = []
        self.stored = 0  # episodes (or chunks) this collection put into replay
        for _ in range(self.config.rollout_steps):
            step = self.last
            actions, self.memory = self.act(step, self.memory, deterministic=False)
            nxt = self.envs.step(actions)
            self.builder.add({"obs": step.obs, "state": step.state, "mask": step.action_mask,
                              "alive": step.alive, "active": step.active},
                             {"action": actions, "reward": nxt.reward, "terminated": nxt.terminated})
            self.reward_std.update(nxt.reward)
            close = nxt.episode_end | self.builder.full()
            if close.any():
                ended = nxt.episode_end
                # Ended copies: the final observation (its mask is unknown; no action follows a terminal
                # one and bootstrapping truncated ones ignores nothing we know). Chunked ones: the next row.
                after = {"obs": np.where(ended[:, None, None], nxt.final_obs, nxt.obs),
                         "state": np.where(ended[:, None], nxt.final_state, nxt.state),
                         "mask": np.where(ended[:, None, None], True, nxt.action_mask),
                         "alive": np.where(ended[:, None], ~nxt.terminated, nxt.alive),
                         "active": np.where(ended[:, None], ~nxt.terminated, nxt.active)}
                for episode in self.builder.finish(close, after):
                    self.replay.add(episode)
                    self.stored += 1
            self.memory = self.reset_memory(self.memory, nxt.episode_end)
            self.last = nxt
            finished += nxt.finished
        self.env_steps += self.config.rollout_steps * self.envs.num_envs
        self.episodes += len(finished)
        return finished

    # ------------------------------------------------------------------ the TD update

    def td_errors(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """TD errors and their loss mask from time-major episodes (obs [T+1, B, N, O], action [T, B, N],
        ...). IQL: per agent, [T, B, N], each agent's from its own data only. Mixers: [T, B]."""
        cfg = self.config
        obs, state, mask, action = batch["obs"], batch["state"], batch["mask"], batch["action"]
        filled = batch["filled"]                                              # [T, B]
        valid = self._valid(mask)                                             # [T+1, B, N, A]
        q = self._q_sequence(self.agent, obs)                                 # [T+1, B, N, A]
        q_taken = q[:-1].gather(-1, action.unsqueeze(-1)).squeeze(-1)         # [T, B, N]
        with torch.no_grad():
            target_q = self._q_sequence(self.target_agent, obs)
            chooser = q.detach() if cfg.double_q else target_q
            next_action = chooser[1:].masked_fill(~valid[1:], -torch.inf).argmax(-1)       # [T, B, N]
            next_q = target_q[1:].gather(-1, next_action.unsqueeze(-1)).squeeze(-1)       # [T, B, N]
        reward = batch["reward"]
        if cfg.standardise_rewards:  # as EPyMARL: a constant shift only matters where episode lengths vary
            reward = (reward - self.reward_std.mean) / self.reward_std.std
        terminated = batch["terminated"]                                      # [T, B, N]
        if self.mixer is None:
            target = lambda_returns(reward, terminated, next_q, filled.unsqueeze(-1), cfg.gamma, cfg.td_lambda)
            return q_taken - target, filled.unsqueeze(-1) & batch["active"][:-1]
        n_actions = q.shape[-1]
        # Agents not in the episode (dead, or not arrived yet) contribute nothing to the team's value.
        live = batch["alive"].float()                                         # [T+1, B, N]
        q_max = q[:-1].masked_fill(~valid[:-1], -torch.inf).max(-1).values   # [T, B, N]
        q_tot = self.mixer(q_taken * live[:-1], state[:-1], q_max * live[:-1],
                           F.one_hot(action, n_actions) * live[:-1, ..., None])  # [T, B]
        with torch.no_grad():
            next_max = target_q[1:].masked_fill(~valid[1:], -torch.inf).max(-1).values
            next_tot = self.target_mixer(next_q * live[1:], state[1:], next_max * live[1:],
                                         F.one_hot(next_action, n_actions) * live[1:, ..., None])
            # The team's reward is the agents' mean (their common reward in fully cooperative games); the
            # team's episode terminates when every agent still in it has terminated.
            team_done = (terminated | ~batch["alive"][:-1]).all(-1) & terminated.any(-1)
            target = lambda_returns(reward.mean(-1), team_done, next_tot, filled, cfg.gamma, cfg.td_lambda)
        return q_tot - target, filled

    def _train_step(self, sample: dict[str, np.ndarray]) -> dict[str, float]:
        batch = {k: to_tensor(v, self.device).transpose(0, 1) for k, v in sample.items()}
        batch["action"] = batch["action"].long()
        errors, weight = self.td_errors(batch)
        weight = weight.float()
        loss = (errors.pow(2) * weight).sum() / weight.sum().clamp(min=1.0)
        self.opt.zero_grad()
        loss.backward()
        grad_norm = nn.utils.clip_grad_norm_(self.params, self.config.max_grad_norm)
        self.opt.step()
        self.updates += 1
        self._update_targets()
        return {"td": loss.item(), "abs_td_error": float((errors.detach().abs() * weight).sum() / weight.sum()),
                "grad_norm": float(grad_norm)}

    @torch.no_grad()
    def _update_targets(self) -> None:
        cfg = self.config
        pairs = [(self.agent, self.target_agent)] + ([(self.mixer, self.target_mixer)] if self.mixer is not None else [])
        if cfg.tau > 0:
            for online, target in pairs:
                for p, tp in zip(online.parameters(), target.parameters()):
                    tp.lerp_(p, cfg.tau)
        elif self.updates % cfg.target_update_interval == 0:
            for online, target in pairs:
                target.load_state_dict(online.state_dict())

    def update(self) -> dict[str, float]:
        stats: dict[str, list[float]] = {"td": [], "abs_td_error": [], "grad_norm": []}
        if len(self.replay) >= self.config.batch_size:
            for _ in range(self.config.updates_per_iteration or self.stored):
                for key, value in self._train_step(self.replay.sample(self.config.batch_size)).items():
                    stats[key].append(value)
        self.iterations += 1
        return {f"losses/{k}": float(np.mean(v)) if v else float("nan") for k, v in stats.items()}

    # ------------------------------------------------------------------ the training loop

    def learn(self, total_steps: int, callback: Callback | None = None) -> None:
        while self.env_steps < total_steps:
            finished = self.collect()
            losses = self.update()
            metrics = {"env_steps": self.env_steps, "episodes": self.episodes, "iterations": self.iterations,
                       **episode_metrics(finished, self.info.agents), "charts/epsilon": self.epsilon(),
                       "charts/replay_episodes": len(self.replay), **losses}
            if callback is not None and callback(self, metrics) is False:
                break

    # ------------------------------------------------------------------ saving and loading

    def state_dict(self) -> dict:
        nets = {"agent": self.agent, "target_agent": self.target_agent, "mixer": self.mixer,
                "target_mixer": self.target_mixer, "opt": self.opt}
        return {**{k: v.state_dict() if v is not None else None for k, v in nets.items()},
                "updates": self.updates, "replay": self.replay.state_dict(),
                "reward_std": vars(self.reward_std).copy(),
                **self.save_position({"last": self.last, "memory": self.memory, "builder": self.builder.state_dict()})}

    def load_state_dict(self, state: dict) -> None:
        for name in ("agent", "target_agent", "mixer", "target_mixer", "opt"):
            module = getattr(self, name)
            if module is not None:
                module.load_state_dict(state[name])
        self.updates = state["updates"]
        self.replay.load_state_dict(state["replay"])
        vars(self.reward_std).update(state["reward_std"])
        collector = self.load_position(state)
        if collector is not None:
            self.last, self.memory = collector["last"], collector["memory"]
            self.builder.load_state_dict(collector["builder"])
