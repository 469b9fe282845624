"""MF-AC: mean-field actor-critic (Yang et al. 2018, "Mean Field Multi-Agent Reinforcement Learning", Alg. 2).

The actor pi(a_j | o_j) reads only the agent's own observation; the critic Q(o_j, a_j, mean_a_j) also reads its
neighbours' mean action (core/mean_field.py), so neither grows with the number of agents. Each team has its own
actor and critic, shared by its members (MF-Q's teams and neighbourhood: mfq.py).

Collected on-policy, as in the authors' MAgent code: a rollout of `rollout_steps` on every copy, then
- critic targets: TD(lambda) returns whose bootstrap is v_MF(o') = sum_a pi(a | o') Q(o', a, mean_a), with the
  step's own mean action standing in for the next one (the paper's approximation, Eq. 11; a deviation on-policy,
  where mean_a_{t+1} is known for all but a rollout's last step: docs/mean-field.md);
- advantages: those returns minus v_MF(o) (the paper's policy gradient log pi * Q, with v_MF as the baseline
  that keeps it unbiased and lowers its variance);
- `epochs` passes over the rollout. Deviation: PPO's clipped surrogate (Schulman et al. 2017) in place of the
  plain policy gradient, so that a rollout can be used more than once without the policy running off.
Read top to bottom: config, networks, acting, collecting, the update, the loop, saving.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from algorithms.base import Algorithm, Callback, require_non_negative, require_positive, require_unit_interval
from algorithms.core.distributions import MaskedCategorical, open_masks
from algorithms.core.mean_field import TeamNetworks
from algorithms.core.metrics import episode_metrics
from algorithms.core.networks import image_layout
from algorithms.core.normalization import RunningStd
from algorithms.core.ppo_losses import clipped_surrogate, masked_mean
from algorithms.core.td_targets import lambda_returns
from algorithms.core.tensors import to_numpy, to_tensor
from algorithms.core.vec_env import Step, VecEnv
from algorithms.mfq import MeanFieldConfig, QNet, build_neighbourhood


@dataclass
class MFACConfig(MeanFieldConfig):
    """Defaults: our PPO learners' where the paper is silent (ppo_config.py)."""

    policy_type = "on-policy"

    epochs: int = 4
    """Passes over each rollout (one gradient step per pass on the whole rollout)."""
    td_lambda: float = 0.95
    """Lambda of the critic's TD(lambda) targets and of the advantages."""
    clip_eps: float = 0.2
    """PPO clipping range of the policy ratio."""
    entropy_coef: float = 0.01
    """Weight of the policy entropy bonus."""
    value_coef: float = 0.5
    """Weight of the critic's squared error in the loss."""

    def validate(self) -> None:
        super().validate()
        require_positive(self, "epochs")
        require_non_negative(self, "clip_eps", "entropy_coef", "value_coef")
        require_unit_interval(self, "td_lambda")


class MFAC(Algorithm):
    config: MFACConfig

    def __init__(self, config: MFACConfig, envs: VecEnv, device: torch.device):
        super().__init__(config, envs, device)
        info, a = self.info, self.info.action_dim
        self.team_of, self.neighbourhood = build_neighbourhood(config, envs, device)
        image = image_layout(info.obs_image, info.image_scale, config.conv_encoder)
        self.actor = TeamNetworks(self.team_of, lambda: QNet(info.obs_dim, config, a, image, gain=0.01)).to(device)
        self.critic = TeamNetworks(self.team_of, lambda: QNet(info.obs_dim + a, config, a, image)).to(device)
        self.params = list(self.actor.parameters()) + list(self.critic.parameters())
        self.opt = torch.optim.Adam(self.params, lr=config.lr, eps=1e-5)
        self.reward_std = RunningStd()
        self.last: Step | None = None

    # ------------------------------------------------------------------ acting

    def policy(self, obs: torch.Tensor, mask: torch.Tensor) -> MaskedCategorical:
        return MaskedCategorical(self.actor(obs.float()), open_masks(mask))

    def critic_q(self, obs: torch.Tensor, mean: torch.Tensor) -> torch.Tensor:
        """Q(o, ., mean_a) [..., N, A]; the mean action is zeroed for the independent baseline."""
        mean = mean if self.config.mean_action else torch.zeros_like(mean)
        return self.critic(torch.cat([obs.float(), mean], dim=-1))

    def v_mf(self, obs: torch.Tensor, mask: torch.Tensor, mean: torch.Tensor) -> torch.Tensor:
        """v_MF(o) = sum_a pi(a | o) Q(o, a, mean_a): [..., N]."""
        return (self.policy(obs, mask).dist.probs * self.critic_q(obs, mean)).sum(-1)

    @torch.no_grad()
    def act(self, step: Step, memory: Any, deterministic: bool) -> tuple[np.ndarray, Any]:
        dist = self.policy(to_tensor(step.obs, self.device), to_tensor(step.action_mask, self.device))
        return to_numpy(dist.mode() if deterministic else dist.sample()), None

    # ------------------------------------------------------------------ collecting a rollout

    def begin(self, first: Step) -> None:
        self.last = first

    def has_env_position(self) -> bool:
        return self.last is not None

    @torch.no_grad()
    def collect(self) -> tuple[dict[str, torch.Tensor], list[tuple[int, np.ndarray, int]]]:
        """A time-major rollout [T, K, N, ...]: observations, actions, the mean actions they made, rewards."""
        if self.last is None:
            self.begin(self.envs.reset())
        rows: dict[str, list[Any]] = {k: [] for k in ("obs", "mask", "action", "log_prob", "mean", "reward",
                                                      "terminated", "episode_end", "active", "next_obs",
                                                      "next_mask")}
        finished: list[tuple[int, np.ndarray, int]] = []
        for _ in range(self.config.rollout_steps):
            step = self.last
            obs, mask = to_tensor(step.obs, self.device), to_tensor(step.action_mask, self.device)
            dist = self.policy(obs, mask)
            action = dist.sample()
            nxt = self.envs.step(to_numpy(action))
            ended = nxt.episode_end[:, None, None]
            for key, value in (("obs", obs), ("mask", mask), ("action", action), ("log_prob", dist.log_prob(action)),
                               ("mean", self.neighbourhood.mean_actions(obs, action, to_tensor(step.alive, self.device))),
                               ("reward", nxt.reward), ("terminated", nxt.terminated),
                               ("episode_end", nxt.episode_end), ("active", step.active),
                               ("next_obs", np.where(ended, nxt.final_obs, nxt.obs)),
                               ("next_mask", np.where(ended, True, nxt.action_mask))):
                rows[key].append(to_tensor(value, self.device))
            if step.active.any():
                self.reward_std.update(nxt.reward[step.active])
            self.last = nxt
            finished += nxt.finished
        self.env_steps += self.config.rollout_steps * self.envs.num_envs
        self.episodes += len(finished)
        return {k: torch.stack(v) for k, v in rows.items()}, finished

    # ------------------------------------------------------------------ the update

    @torch.no_grad()
    def targets(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """TD(lambda) returns [T, K, N] bootstrapped with v_MF, and advantages (returns - v_MF(o))."""
        cfg = self.config
        # After an episode's last step the next mask is unknown (all open): that value bootstraps truncations only.
        next_v = self.v_mf(batch["next_obs"], batch["next_mask"], batch["mean"])
        reward = batch["reward"] / self.reward_std.std if cfg.standardise_rewards else batch["reward"]
        same_episode = torch.cat([torch.ones_like(batch["episode_end"][:1]), ~batch["episode_end"][:-1]])
        filled = same_episode[..., None].expand_as(reward)
        returns = lambda_returns(reward, batch["terminated"], next_v, filled, cfg.gamma, cfg.td_lambda)
        return returns, returns - self.v_mf(batch["obs"], batch["mask"], batch["mean"])

    def update(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        cfg = self.config
        returns, advantage = self.targets(batch)
        active = batch["active"]
        advantage = (advantage - advantage[active].mean()) / (advantage[active].std() + 1e-8) if active.sum() > 1 \
            else advantage
        stats: dict[str, list[float]] = {"policy": [], "critic": [], "entropy": [], "grad_norm": []}
        for _ in range(cfg.epochs):
            dist = self.policy(batch["obs"], batch["mask"])
            objective, _ = clipped_surrogate(dist.log_prob(batch["action"]), batch["log_prob"], advantage, cfg.clip_eps)
            q = self.critic_q(batch["obs"], batch["mean"]).gather(-1, batch["action"].unsqueeze(-1)).squeeze(-1)
            policy_loss, entropy = -masked_mean(objective, active), masked_mean(dist.entropy(), active)
            critic_loss = masked_mean((q - returns).pow(2), active)
            loss = policy_loss - cfg.entropy_coef * entropy + cfg.value_coef * critic_loss
            self.opt.zero_grad()
            loss.backward()
            grad_norm = nn.utils.clip_grad_norm_(self.params, cfg.max_grad_norm)
            self.opt.step()
            for key, value in (("policy", policy_loss), ("critic", critic_loss), ("entropy", entropy),
                               ("grad_norm", grad_norm)):
                stats[key].append(float(value.detach()) if torch.is_tensor(value) else float(value))
        self.iterations += 1
        return {f"losses/{k}": float(np.mean(v)) for k, v in stats.items()}

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
        return {"actor": self.actor.state_dict(), "critic": self.critic.state_dict(), "opt": self.opt.state_dict(),
                "reward_std": vars(self.reward_std).copy(), **self.save_position({"last": self.last})}

    def load_state_dict(self, state: dict) -> None:
        self.actor.load_state_dict(state["actor"])
        self.critic.load_state_dict(state["critic"])
        self.opt.load_state_dict(state["opt"])
        vars(self.reward_std).update(state["reward_std"])
        collector = self.load_position(state)
        if collector is not None:
            self.last = collector["last"]
