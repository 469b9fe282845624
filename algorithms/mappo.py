"""MAPPO and IPPO: PPO with decentralised actors and a centralised (MAPPO) or local (IPPO) critic.

Yu et al. 2022, "The Surprising Effectiveness of PPO in Cooperative Multi-Agent Games" (MAPPO);
de Witt et al. 2020, "Is Independent Learning All You Need in the StarCraft Multi-Agent Challenge?" (IPPO).
Read top to bottom: networks, acting, collecting a rollout, the PPO update (the configs: ppo_config.py).
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from algorithms.base import Algorithm, Callback
from algorithms.core.distributions import DiagGaussian, MaskedCategorical, MultiCategorical, to_env_actions
from algorithms.core.gae import compute_gae
from algorithms.core.metrics import episode_metrics
from algorithms.core.networks import AgentLinear, ImageLayout, Torso, image_layout
from algorithms.core.normalization import ValueNorm
from algorithms.core.ppo_losses import clipped_surrogate, masked_mean, value_loss
from algorithms.core.tensors import to_numpy, to_tensor
from algorithms.core.vec_env import Step, VecEnv
from algorithms.ppo_config import IPPOConfig, MAPPOConfig, PPOConfig

__all__ = ["MAPPO", "PPOConfig", "MAPPOConfig", "IPPOConfig"]  # the configs live in ppo_config.py


# ---------------------------------------------------------------------------------------------------
# Networks: agents are a tensor axis; inputs [..., N, features]


class Actor(nn.Module):
    def __init__(self, in_features: int, cfg: PPOConfig, action_dim: int, continuous: bool, n_agents: int,
                 image: ImageLayout | None = None):
        super().__init__()
        per_agent = None if cfg.share_parameters else n_agents
        self.torso = Torso(in_features, cfg.hidden_size, cfg.layers, per_agent, cfg.recurrent, cfg.activation,
                           cfg.layer_norm, image)
        self.head = AgentLinear(cfg.hidden_size, action_dim, per_agent, gain=0.01)  # near-uniform start
        self.log_std = nn.Parameter(torch.full((n_agents, action_dim), cfg.log_std_init)) if continuous else None


class Critic(nn.Module):
    def __init__(self, in_features: int, cfg: PPOConfig, n_agents: int, image: ImageLayout | None = None):
        super().__init__()
        per_agent = None if cfg.share_parameters else n_agents
        self.torso = Torso(in_features, cfg.hidden_size, cfg.layers, per_agent, cfg.recurrent, cfg.activation,
                           cfg.layer_norm, image)
        self.head = AgentLinear(cfg.hidden_size, 1, per_agent, gain=1.0)


class MAPPO(Algorithm):
    config: PPOConfig

    def __init__(self, config: PPOConfig, envs: VecEnv, device: torch.device):
        super().__init__(config, envs, device)
        info, n = self.info, self.info.n_agents
        self.continuous = info.action_kind == "continuous"
        id_dim = n if config.agent_id_input else 0
        critic_in = (info.state_dim if config.centralised_critic else info.obs_dim) + id_dim
        self.obs_image = image_layout(info.obs_image, info.image_scale, config.conv_encoder)
        critic_image = (image_layout(info.state_image, info.image_scale, config.conv_encoder)
                        if config.centralised_critic else self.obs_image)
        self.actor = Actor(info.obs_dim + id_dim, config, info.action_dim, self.continuous, n,
                           self.obs_image).to(device)
        self.critic = Critic(critic_in, config, n, critic_image).to(device)
        self.actor_opt = torch.optim.Adam(self.actor.parameters(), lr=config.lr, eps=config.adam_eps)
        self.critic_opt = torch.optim.Adam(self.critic.parameters(), lr=config.critic_lr, eps=config.adam_eps)
        self.value_norm = ValueNorm().to(device) if config.value_norm else None
        self.agent_ids = to_tensor(info.agent_ids, device)  # [N, N]
        self.act_low, self.act_high, self.dim_mask = (to_tensor(a, device) for a in (
            info.action_low, info.action_high, info.act_dim_mask))
        # Steps per copy per rollout: fixed, or a batch of batch_steps env steps split over the copies.
        self.rollout_steps = config.rollout_steps or -(-config.batch_steps // envs.num_envs)
        self.last: Step | None = None  # the observation the next collected step starts from
        self.memory: Any = None
        self.starts: np.ndarray | None = None  # [K, N] first step of an episode (resets recurrent state)

    def uses_state(self) -> bool:
        return self.config.centralised_critic

    # ------------------------------------------------------------------ inputs and distributions

    def _with_id(self, x: torch.Tensor) -> torch.Tensor:
        ids = self.agent_ids.expand(*x.shape[:-2], -1, -1)
        return torch.cat([x, ids], dim=-1) if self.config.agent_id_input else x

    # The torsos' inputs. `alive` [..., N] (bool; None: everyone) marks the agents still in the episode: MAPPO's
    # own networks ignore it; CommNet's channel listens only to live agents.
    def _actor_in(self, obs: torch.Tensor, alive: torch.Tensor | None = None) -> torch.Tensor:  # obs [..., N, O]
        return self._with_id(obs)

    def _critic_in(self, obs: torch.Tensor, state: torch.Tensor, alive: torch.Tensor | None = None) -> torch.Tensor:
        if not self.config.centralised_critic:
            return self._with_id(obs)
        return self._with_id(state.unsqueeze(-2).expand(*obs.shape[:-1], state.shape[-1]))

    def _dist(self, features: torch.Tensor, mask: torch.Tensor):
        out = self.actor.head(features)
        if self.continuous:
            return DiagGaussian(out, self.actor.log_std, self.dim_mask)
        if self.info.action_kind == "multi_discrete":  # a head per component: actions [..., N, components]
            return MultiCategorical(out, mask, self.info.action_components)
        return MaskedCategorical(out, mask)

    def policy(self, obs: torch.Tensor, mask: torch.Tensor, h_actor: torch.Tensor | None = None,
               alive: torch.Tensor | None = None):
        """Each agent's action distribution from its own observation only: obs [K, N, obs_dim]."""
        features, h_actor = self.actor.torso(self._actor_in(obs, alive), h_actor)
        return self._dist(features, mask), h_actor

    def _tensors(self, step: Step) -> tuple[torch.Tensor, ...]:
        return tuple(to_tensor(a, self.device) for a in (step.obs, step.state, step.action_mask, step.alive))

    # ------------------------------------------------------------------ acting

    def initial_memory(self, num_envs: int) -> Any:
        if not self.config.recurrent:
            return None
        zeros = torch.zeros(num_envs, self.info.n_agents, self.config.hidden_size, device=self.device)
        return (zeros, zeros.clone())  # (actor hidden, critic hidden)

    @torch.no_grad()
    def act(self, step: Step, memory: Any, deterministic: bool) -> tuple[np.ndarray, Any]:
        obs, _, mask, alive = self._tensors(step)
        dist, h_actor = self.policy(obs, mask, memory[0] if memory is not None else None, alive)
        action = dist.mode() if deterministic else dist.sample()
        memory = (h_actor, memory[1]) if memory is not None else None
        return to_numpy(self._env_actions(action)), memory

    def _env_actions(self, action: torch.Tensor) -> torch.Tensor:
        return to_env_actions(action, self.act_low, self.act_high) if self.continuous else action

    def reset_memory(self, memory: Any, episode_end: np.ndarray) -> Any:
        if memory is None:
            return None
        keep = to_tensor(~episode_end, self.device, torch.float32)[:, None, None]
        return tuple(h * keep for h in memory)

    # ------------------------------------------------------------------ collecting a rollout

    def begin(self, first: Step) -> None:
        self.last = first
        self.memory = self.initial_memory(self.envs.num_envs)
        self.starts = np.ones((self.envs.num_envs, self.info.n_agents), bool)

    def has_env_position(self) -> bool:
        return self.last is not None

    def _value(self, obs, state, h_critic, alive=None):
        features, h_critic = self.critic.torso(self._critic_in(obs, state, alive), h_critic)
        return self.critic.head(features).squeeze(-1), h_critic  # [K, N] (normalised units)

    def _denorm(self, v: torch.Tensor) -> torch.Tensor:
        return self.value_norm.denormalize(v) if self.value_norm is not None else v

    @torch.no_grad()
    def collect(self) -> tuple[dict[str, torch.Tensor], list[tuple[int, np.ndarray, int]]]:
        """T steps on every copy. Returns time-major tensors [T, K, N, ...] and the finished episodes."""
        if self.last is None:
            self.begin(self.envs.reset())
        keys = ("obs", "state", "mask", "active", "alive", "starts", "action", "log_prob", "value",
                "reward", "terminated", "end", "next_value")
        buf: dict[str, list] = {k: [] for k in keys}
        h0 = self.memory
        finished: list[tuple[int, np.ndarray, int]] = []
        for _ in range(self.rollout_steps):
            step = self.last
            obs, state, mask, alive = self._tensors(step)
            h_actor, h_critic = self.memory if self.memory is not None else (None, None)
            dist, h_actor = self.policy(obs, mask, h_actor, alive)
            action = dist.sample()
            value, h_critic = self._value(obs, state, h_critic, alive)
            nxt = self.envs.step(to_numpy(self._env_actions(action)))
            end = nxt.episode_end[:, None] | nxt.terminated | nxt.truncated  # [K, N]
            next_value = torch.zeros_like(value)
            if nxt.episode_end.any() and self.config.bootstrap_time_limit:  # bootstrap from the final observation
                final_obs = to_tensor(nxt.final_obs, self.device)
                final_state = to_tensor(nxt.final_state, self.device)
                # (every agent observed at the end counts as present)
                next_value = self._denorm(self._value(final_obs, final_state, h_critic)[0])
            for key, val in (("obs", obs), ("state", state), ("mask", mask), ("active", step.active),
                             ("alive", alive), ("starts", self.starts), ("action", action),
                             ("log_prob", dist.log_prob(action)), ("value", value), ("reward", nxt.reward),
                             ("terminated", nxt.terminated), ("end", end), ("next_value", next_value)):
                buf[key].append(to_tensor(val, self.device))
            self.memory = self.reset_memory((h_actor, h_critic) if self.memory is not None else None,
                                            nxt.episode_end)
            self.starts = np.repeat(nxt.episode_end[:, None], self.info.n_agents, axis=1)
            self.last = nxt
            finished += nxt.finished
        self.env_steps += self.rollout_steps * self.envs.num_envs
        self.episodes += len(finished)
        batch = {k: torch.stack(v) for k, v in buf.items()}
        obs, state, _, alive = self._tensors(self.last)
        last_value = self._value(obs, state, self.memory[1] if self.memory is not None else None, alive)[0]
        values = self._denorm(batch["value"])
        following = torch.cat([values[1:], self._denorm(last_value)[None]])  # value of the next row
        batch["next_value"] = torch.where(batch["end"] & ~batch["terminated"], batch["next_value"], following)
        terminal = batch["terminated"] if self.config.bootstrap_time_limit else batch["end"]
        batch["advantage"], batch["return"] = compute_gae(
            batch["reward"], values, batch["next_value"], terminal, batch["end"],
            self.config.gamma, self.config.gae_lambda)
        batch["h0_actor"], batch["h0_critic"] = h0 if h0 is not None else (None, None)
        return batch, finished

    # ------------------------------------------------------------------ the PPO update

    def update(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        cfg = self.config
        if cfg.lr_anneal_steps:  # set from env_steps, so a resumed run anneals exactly as an unbroken one
            left = max(0.0, 1.0 - self.env_steps / cfg.lr_anneal_steps)
            for opt, base in ((self.actor_opt, cfg.lr), (self.critic_opt, cfg.critic_lr)):
                for group in opt.param_groups:
                    group["lr"] = base * left
        if self.value_norm is not None:
            self.value_norm.update(batch["return"][batch["alive"]])
        advantage = batch["advantage"]
        if cfg.advantage_norm:
            active = advantage[batch["active"]]
            advantage = (advantage - active.mean()) / (active.std() + 1e-8)
        # Sequences for the GRU: minibatches of whole env columns [T, c, N]. Feed-forward: every (t, k) row
        # is its own column, [1, T*K, N].
        seq = cfg.recurrent
        data = {k: v if seq or v is None or k.startswith("h0") else v.reshape(1, -1, *v.shape[2:])
                for k, v in {**batch, "advantage": advantage}.items()}
        columns = data["obs"].shape[1]
        stats: dict[str, list[float]] = {k: [] for k in ("policy", "value", "entropy", "approx_kl",
                                                          "clip_fraction", "grad_norm_actor", "grad_norm_critic")}
        for _ in range(cfg.epochs):
            order = torch.randperm(columns, device=self.device)
            for idx in order.chunk(cfg.minibatches):
                mb = {k: (v[:, idx] if not k.startswith("h0") else (v[idx] if v is not None else None))
                      for k, v in data.items()}
                for key, val in self._minibatch_step(mb).items():
                    stats[key].append(val)
        self.iterations += 1
        return {f"losses/{k}": float(np.mean(v)) for k, v in stats.items()}

    def _minibatch_step(self, mb: dict[str, torch.Tensor]) -> dict[str, float]:
        cfg = self.config
        features = self.actor.torso.forward_sequence(self._actor_in(mb["obs"], mb["alive"]), mb["h0_actor"],
                                                     mb["starts"])
        dist = self._dist(features, mb["mask"])
        log_prob = dist.log_prob(mb["action"])
        objective, ratio = clipped_surrogate(log_prob, mb["log_prob"], mb["advantage"], cfg.clip_eps)
        entropy = masked_mean(dist.entropy(), mb["active"])
        policy_loss = -masked_mean(objective, mb["active"])
        self.actor_opt.zero_grad()
        (policy_loss - cfg.entropy_coef * entropy).backward()
        actor_norm = nn.utils.clip_grad_norm_(self.actor.parameters(), cfg.max_grad_norm)
        self.actor_opt.step()

        critic_features = self.critic.torso.forward_sequence(self._critic_in(mb["obs"], mb["state"], mb["alive"]),
                                                             mb["h0_critic"], mb["starts"])
        value = self.critic.head(critic_features).squeeze(-1)
        target = self.value_norm.normalize(mb["return"]) if self.value_norm is not None else mb["return"]
        v_loss = masked_mean(value_loss(value, mb["value"], target, cfg.clip_eps, cfg.value_clip,
                                        cfg.huber_delta), mb["alive"])
        self.critic_opt.zero_grad()
        v_loss.backward()
        critic_norm = nn.utils.clip_grad_norm_(self.critic.parameters(), cfg.max_grad_norm)
        self.critic_opt.step()
        with torch.no_grad():
            log_ratio = log_prob - mb["log_prob"]
            kl = masked_mean(ratio - 1 - log_ratio, mb["active"])  # Schulman's low-variance KL estimate
            clipped = masked_mean(((ratio - 1).abs() > cfg.clip_eps).float(), mb["active"])
        return {"policy": policy_loss.item(), "value": v_loss.item(), "entropy": entropy.item(),
                "approx_kl": kl.item(), "clip_fraction": clipped.item(),
                "grad_norm_actor": float(actor_norm), "grad_norm_critic": float(critic_norm)}

    # ------------------------------------------------------------------ the training loop

    def learn(self, total_steps: int, callback: Callback | None = None) -> None:
        while self.env_steps < total_steps:
            batch, finished = self.collect()
            losses = self.update(batch)
            metrics = {"env_steps": self.env_steps, "episodes": self.episodes, "iterations": self.iterations,
                       **episode_metrics(finished, self.info.agents), **losses}
            if callback is not None and callback(self, metrics) is False:
                break

    # ------------------------------------------------------------------ saving and loading

    def state_dict(self) -> dict:
        return {"actor": self.actor.state_dict(), "critic": self.critic.state_dict(),
                "actor_opt": self.actor_opt.state_dict(), "critic_opt": self.critic_opt.state_dict(),
                "value_norm": self.value_norm.state_dict() if self.value_norm is not None else None,
                **self.save_position({"last": self.last, "memory": self.memory, "starts": self.starts})}

    def load_state_dict(self, state: dict) -> None:
        self.actor.load_state_dict(state["actor"])
        self.critic.load_state_dict(state["critic"])
        self.actor_opt.load_state_dict(state["actor_opt"])
        self.critic_opt.load_state_dict(state["critic_opt"])
        if self.value_norm is not None:
            self.value_norm.load_state_dict(state["value_norm"])
        collector = self.load_position(state)
        if collector is not None:
            self.last, self.memory, self.starts = collector["last"], collector["memory"], collector["starts"]
