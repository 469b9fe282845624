"""MADDPG: decentralised deterministic actors, one centralised critic per agent (or per team).

Lowe et al. 2017, "Multi-Agent Actor-Critic for Mixed Cooperative-Competitive Environments".
Each agent's critic Q_i(x, a_1..a_N) reads every agent's observation (or the global state) and action, and
is trained on that agent's own reward, so cooperative, competitive and mixed games all work. Actors read
only their own observation. Discrete actions are Gumbel-softmax straight-through samples (Jang et al. 2017;
Maddison et al. 2017). Deviation: the paper's code feeds the critic the *soft* Gumbel-softmax sample (and
MPE received that soft vector as its action); here the forward value is the one-hot sample the env executes and
replay stores, so the critic is trained and queried on the same kind of input; the softmax's gradient passes
through (docs/maddpg.md). (Factorised MultiDiscrete / MultiBinary actions: one per component); continuous actions come from a tanh actor with annealed Gaussian
exploration noise (DDPG, Lillicrap et al. 2016).
Teams (`teams=...`) share one critic and the mean reward within each team: the "hybrid" set-up of the seed.
Read top to bottom: config, teams, networks, acting, collecting, the update, the loop, saving.
"""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from algorithms.errors import MARLError
from algorithms.base import (Algorithm, AlgorithmConfig, Callback, require_non_negative, require_positive,
                             require_unit_interval)
from algorithms.core.action_spaces import split_components
from algorithms.core.distributions import to_env_actions
from algorithms.core.memory import require_fits
from algorithms.core.metrics import episode_metrics, team_returns
from algorithms.core.teams import resolve_teams
from algorithms.core.tensors import to_numpy, to_tensor
from algorithms.core.transition_replay import FieldSpec, TransitionReplay
from algorithms.core.vec_env import Step, VecEnv


@dataclass
class MADDPGConfig(AlgorithmConfig):
    """MADDPG defaults follow Lowe et al. 2017 (their MPE code) unless a field says otherwise."""

    action_spaces = frozenset({"discrete", "continuous", "multi_discrete"})
    reward_settings = frozenset({"cooperative", "competitive", "mixed"})
    policy_type = "off-policy"
    needs_state = True

    teams: str = ""
    """Agents sharing one critic and their mean reward: '' none (the paper), 'auto' (by name prefix: adversary_0 -> adversary), or patterns like 'adversary_*;agent_*'."""
    share_actors: bool = False
    """One actor per team (for all agents without teams) with a one-hot agent-id input; false: an actor per agent (the paper)."""
    critic_input: str = "observations"
    """What critics read besides all actions: 'observations' (every agent's, the paper) or 'state' (env.state())."""
    hidden_size: int = 64
    """Width of every hidden layer (the paper: 64)."""
    layers: int = 2
    """Hidden layers in actors and critics (the paper: 2)."""
    lr: float = 1e-2
    """Actor learning rate (Adam; the paper: 1e-2)."""
    critic_lr: float = 1e-2
    """Critic learning rate (Adam; the paper: 1e-2)."""
    gamma: float = 0.95
    """Discount factor (the paper: 0.95)."""
    tau: float = 0.01
    """Soft target update: target <- (1 - tau) target + tau online after every gradient step (the paper: 0.01)."""
    buffer_size: int = 1_000_000
    """Replay capacity in transitions, one transition = one env copy's step (the paper: 1e6)."""
    batch_size: int = 1024
    """Transitions per gradient step (the paper: 1024)."""
    learning_starts: int = 25_600
    """Transitions in the replay before the first update (the paper: 1024 batches x 25 steps)."""
    train_every: int = 100
    """Env steps (summed over copies) collected between updates (the paper: 100)."""
    updates: int = 1
    """Gradient steps (critics, actors, targets) after each collection (the paper: 1)."""
    max_grad_norm: float = 0.5
    """Gradient-norm clip, applied to each agent's (or team's) network separately (the paper: 0.5)."""
    logit_reg: float = 1e-3
    """Weight of the mean squared actor output (logits; pre-tanh means for continuous) in the actor loss (the paper: 1e-3)."""
    gumbel_tau: float = 1.0
    """Gumbel-softmax temperature for discrete actions (the paper: 1)."""
    noise_start: float = 0.3
    """Std of the Gaussian exploration noise on continuous actions in [-1, 1] at the start (not in the paper)."""
    noise_end: float = 0.05
    """Std of the exploration noise after `noise_anneal_steps` (linear annealing)."""
    noise_anneal_steps: int = 100_000
    """Env steps over which the noise std falls from noise_start to noise_end."""

    def validate(self) -> None:
        require_positive(self, "hidden_size", "layers", "lr", "critic_lr", "buffer_size", "batch_size",
                         "train_every", "updates", "max_grad_norm", "gumbel_tau", "noise_anneal_steps")
        require_unit_interval(self, "gamma", "tau")
        require_non_negative(self, "learning_starts", "logit_reg", "noise_start", "noise_end")
        if self.critic_input not in ("observations", "state"):
            raise MARLError("bad-config-value", f"'critic_input' must be 'observations' or 'state', "
                               f"got {self.critic_input!r}")


# ---------------------------------------------------------------------------------------------------
# Networks: agents are a tensor axis; inputs [..., N, features], weights per group (agent, team or all)


class GroupLinear(nn.Module):
    """y = x W[g] + b[g] where g = group of each agent: per-agent, per-team or shared weights in one einsum."""

    def __init__(self, in_features: int, out_features: int, group_of: list[int], bound: float | None = None):
        super().__init__()
        bound = bound if bound is not None else 1.0 / math.sqrt(in_features)  # torch.nn.Linear's default range
        groups = max(group_of) + 1
        self.weight = nn.Parameter(torch.empty(groups, in_features, out_features).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(groups, out_features).uniform_(-bound, bound))
        # Built on the CPU: Module.to(device) moves buffers with the weights.
        self.register_buffer("group", to_tensor(group_of, "cpu", torch.long), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x [..., N, in] -> [..., N, out]
        return torch.einsum("...ni,nio->...no", x, self.weight[self.group]) + self.bias[self.group]


def group_mlp(in_features: int, hidden: int, out: int, layers: int, group_of: list[int],
              last_bound: float | None = None) -> nn.Sequential:
    blocks: list[nn.Module] = []
    width = in_features
    for _ in range(layers):
        blocks += [GroupLinear(width, hidden, group_of), nn.ReLU()]
        width = hidden
    return nn.Sequential(*blocks, GroupLinear(width, out, group_of, last_bound))


def clip_grad_norm_per_group(module: nn.Module, max_norm: float) -> torch.Tensor:
    """Clip each group's gradient (every parameter's leading axis) to `max_norm`, as separate optimisers
    per agent would. Returns the norms before clipping, [groups]."""
    grads = [p.grad for p in module.parameters() if p.grad is not None]
    norms = torch.stack([g.pow(2).flatten(1).sum(1) for g in grads]).sum(0).sqrt()  # [groups]
    scale = (max_norm / (norms + 1e-6)).clamp(max=1.0)
    for g in grads:
        g.mul_(scale.view(-1, *([1] * (g.dim() - 1))))
    return norms


def gumbel_softmax_st(logits: torch.Tensor, tau: float, sample: bool = True) -> torch.Tensor:
    """Straight-through Gumbel-softmax: the forward value is the one-hot argmax of logits + Gumbel noise,
    the gradient is that of softmax((logits + noise) / tau) (Jang et al. 2017). sample=False: no noise."""
    noise = -torch.empty_like(logits).exponential_().log() if sample else torch.zeros_like(logits)
    soft = F.softmax((logits + noise) / tau, dim=-1)
    hard = F.one_hot(soft.argmax(-1), logits.shape[-1]).to(soft.dtype)
    return hard - soft.detach() + soft


class MADDPG(Algorithm):
    config: MADDPGConfig

    def __init__(self, config: MADDPGConfig, envs: VecEnv, device: torch.device):
        super().__init__(config, envs, device)
        info, n, a = self.info, self.info.n_agents, self.info.action_dim
        self.continuous = info.action_kind == "continuous"
        self.team_of, team_names = resolve_teams(config.teams, info.agents)
        # team name -> member agents, read by evaluate() for per-team returns; None without teams
        self.teams = ({t: [ag for ag, i in zip(info.agents, self.team_of) if i == k]
                       for k, t in enumerate(team_names)} if config.teams.strip() else None)
        actor_groups = list(self.team_of if config.teams.strip() else [0] * n) if config.share_actors \
            else list(range(n))
        critic_x = info.state_dim if config.critic_input == "state" else n * info.obs_dim
        id_dim = n if config.share_actors else 0
        # First layers' weights: every critic reads every agent's observation; x4 for targets and Adam's moments.
        first = (len(set(self.team_of)) * (critic_x + n * a) + len(set(actor_groups)) * (info.obs_dim + id_dim))
        require_fits("MADDPG's actors and critics", 16 * first * config.hidden_size,
                     "make observations smaller (--env-kwarg obs_resize=HxW for images) or lower --set hidden_size")
        self.actor = group_mlp(info.obs_dim + id_dim, config.hidden_size, a, config.layers, actor_groups,
                               last_bound=3e-3).to(device)  # small last layer: near-zero first actions (DDPG)
        self.critic = group_mlp(critic_x + n * a, config.hidden_size, 1, config.layers, self.team_of).to(device)
        self.target_actor = copy.deepcopy(self.actor).requires_grad_(False)
        self.target_critic = copy.deepcopy(self.critic).requires_grad_(False)
        self.actor_opt = torch.optim.Adam(self.actor.parameters(), lr=config.lr)
        self.critic_opt = torch.optim.Adam(self.critic.parameters(), lr=config.critic_lr)
        team = to_tensor(self.team_of, device)
        same = (team[:, None] == team[None, :]).float()      # [N, N]
        self.share = same / same.sum(1, keepdim=True)        # reward_i <- mean reward of i's team
        self.agent_ids = torch.eye(n, device=device)
        self.act_low = to_tensor(info.action_low, device)
        self.act_high = to_tensor(info.action_high, device)
        self.dim_mask = to_tensor(info.act_dim_mask, device, torch.float32)  # [N, A]
        self.real_actions = to_tensor(info.real_actions, device)              # [N, A] bool
        f32, b = torch.float32, torch.bool
        obs, state = FieldSpec((n, info.obs_dim), f32), FieldSpec((info.state_dim,), f32)
        self.replay = TransitionReplay(config.buffer_size, {
            "obs": obs, "state": state, "mask": FieldSpec((n, a), b), "active": FieldSpec((n,), b),
            "alive": FieldSpec((n,), b), "action": FieldSpec((n, a), f32), "reward": FieldSpec((n,), f32),
            "next_obs": obs, "next_state": state, "next_mask": FieldSpec((n, a), b),
            "terminated": FieldSpec((n,), b)}, device)
        self.last: Step | None = None  # the observation the next collected step starts from

    def uses_state(self) -> bool:
        return self.config.critic_input == "state"

    # ------------------------------------------------------------------ actions

    def actor_out(self, actor: nn.Module, obs: torch.Tensor) -> torch.Tensor:
        """Each agent's logits (discrete) or pre-tanh means (continuous) from its own observation only:
        obs [..., N, obs_dim] -> [..., N, action_dim]."""
        if self.config.share_actors:
            obs = torch.cat([obs, self.agent_ids.expand(*obs.shape[:-2], -1, -1)], dim=-1)
        return actor(obs)

    def to_action(self, out: torch.Tensor, mask: torch.Tensor, sample: bool, noise_std: float = 0.0):
        """Actor output -> the action critics see: one-hot (discrete) or [-1, 1] vector (continuous),
        padded entries zero. Differentiable (straight-through) for discrete, through tanh for continuous."""
        if self.continuous:
            action = torch.tanh(out)
            if noise_std > 0:
                action = (action + noise_std * torch.randn_like(action)).clamp(-1.0, 1.0)
            return action * self.dim_mask
        logits = out.masked_fill(~mask, -1e9)  # forbidden (and padded) choices are never picked
        # One straight-through head per component of a factorised action (one component for Discrete): critics
        # read the concatenated one-hots.
        return torch.cat([gumbel_softmax_st(part, self.config.gumbel_tau, sample)
                          for part in split_components(logits, self.info)], -1)

    def noise_std(self) -> float:
        cfg = self.config
        frac = min(self.env_steps / cfg.noise_anneal_steps, 1.0)
        return cfg.noise_start + frac * (cfg.noise_end - cfg.noise_start)

    def _env_actions(self, action: torch.Tensor) -> np.ndarray:
        if self.continuous:
            return to_numpy(to_env_actions(action, self.act_low, self.act_high))
        if self.info.action_kind == "multi_discrete":  # each component's argmax: [K, N, components]
            return to_numpy(torch.stack([part.argmax(-1) for part in split_components(action, self.info)], -1))
        return to_numpy(action.argmax(-1))

    def _tensors(self, step: Step) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        device = self.device
        # .float(): uint8 image rows become float here (MADDPG's replay stores float32); a no-op otherwise.
        return (to_tensor(step.obs, device).float(), to_tensor(step.state, device).float(),
                to_tensor(step.action_mask, device))

    @torch.no_grad()
    def act(self, step: Step, memory: Any, deterministic: bool) -> tuple[np.ndarray, Any]:
        obs, _, mask = self._tensors(step)
        out = self.actor_out(self.actor, obs)
        action = self.to_action(out, mask, sample=not deterministic,
                                noise_std=0.0 if deterministic else self.noise_std())
        return self._env_actions(action), memory

    # ------------------------------------------------------------------ collecting into the replay

    def begin(self, first: Step) -> None:
        self.last = first

    def has_env_position(self) -> bool:
        return self.last is not None

    @torch.no_grad()
    def collect(self) -> list[tuple[int, np.ndarray, int]]:
        """`train_every` env steps (rounded up to whole steps of all K copies) into the replay."""
        if self.last is None:
            self.begin(self.envs.reset())
        k, finished = self.envs.num_envs, []
        on_device = lambda x: to_tensor(x, self.device)  # noqa: E731  torch.where needs one device
        for _ in range(math.ceil(self.config.train_every / k)):
            step = self.last
            obs, state, mask = self._tensors(step)
            action = self.to_action(self.actor_out(self.actor, obs), mask, True, self.noise_std())
            nxt = self.envs.step(self._env_actions(action))
            end = on_device(nxt.episode_end)
            # Copies that ended were auto-reset: their next observation is the final one. Truncation is not
            # terminal, so those rows still bootstrap from it.
            next_obs = torch.where(end[:, None, None], on_device(nxt.final_obs), on_device(nxt.obs))
            next_state = torch.where(end[:, None], on_device(nxt.final_state), on_device(nxt.state))
            # The mask of an auto-reset copy's next row is the next episode's first step: at the final observation
            # every real action is open instead (the value learners and MF-Q do the same).
            next_mask = torch.where(end[:, None, None], self.real_actions, on_device(nxt.action_mask))
            self.replay.add(obs=obs, state=state, mask=mask, active=on_device(step.active),
                            alive=on_device(step.alive), action=action, reward=on_device(nxt.reward),
                            next_obs=next_obs, next_state=next_state, next_mask=next_mask,
                            terminated=on_device(nxt.terminated))
            self.last = nxt
            self.env_steps += k
            finished += nxt.finished
        self.episodes += len(finished)
        return finished

    # ------------------------------------------------------------------ the update

    def q_values(self, critic: nn.Module, obs: torch.Tensor, state: torch.Tensor,
                 joint: torch.Tensor) -> torch.Tensor:
        """Every agent's (or team's) Q from all observations (or the state) and all actions.
        obs [B, N, O], state [B, S]; joint [B, N, A] (one joint action for all critics) or [B, N(i), N, A]
        (critic i's own joint action). Returns [B, N]."""
        n = self.info.n_agents
        x = state if self.config.critic_input == "state" else obs.flatten(-2)      # [B, X]
        if joint.dim() == 3:
            joint = joint[:, None].expand(-1, n, -1, -1)
        inputs = torch.cat([x[:, None].expand(-1, n, -1), joint.flatten(-2)], dim=-1)  # [B, N, X + N*A]
        return critic(inputs).squeeze(-1)

    def actor_loss(self, b: dict[str, torch.Tensor]) -> torch.Tensor:
        """Agent i's actor maximises Q_i with its own action from the current policy and every other agent's
        action from the replay (the paper's gradient). All agents at once: joint[b, i, j] is agent j's
        action in the joint action critic i reads. Summed over agents, so each actor gets its own gradient."""
        n = self.info.n_agents
        out = self.actor_out(self.actor, b["obs"])
        own = self.to_action(out, b["mask"], True)                                 # [B, N, A]
        eye = torch.eye(n, dtype=torch.bool, device=self.device)[:, :, None]        # [N(i), N(j), 1]
        joint = torch.where(eye, own[:, None], b["action"][:, None])               # [B, N, N, A]
        q_pi = self.q_values(self.critic, b["obs"], b["state"], joint)             # [B, N]
        if self.continuous:
            reg = (out.pow(2) * self.dim_mask).sum(-1) / self.dim_mask.sum(-1)
        else:
            reg = out.masked_fill(~b["mask"], 0.0).pow(2).sum(-1) / b["mask"].sum(-1).clamp(min=1)
        per_agent = -q_pi + self.config.logit_reg * reg                            # [B, N]
        active = b["active"].float()
        return ((per_agent * active).sum(0) / active.sum(0).clamp(min=1)).sum()

    def update(self) -> dict[str, float]:
        cfg, n = self.config, self.info.n_agents
        b = self.replay.sample(cfg.batch_size)
        reward = b["reward"] @ self.share.T  # [B, N]: own reward, or the team's mean
        with torch.no_grad():
            next_action = self.to_action(self.actor_out(self.target_actor, b["next_obs"]), b["next_mask"], True)
            q_next = self.q_values(self.target_critic, b["next_obs"], b["next_state"], next_action)
            target = reward + cfg.gamma * (~b["terminated"]).float() * q_next
        alive = b["alive"].float()
        q = self.q_values(self.critic, b["obs"], b["state"], b["action"])
        critic_loss = (((q - target) ** 2 * alive).sum(0) / alive.sum(0).clamp(min=1)).sum()  # sum of agents' MSEs
        self.critic_opt.zero_grad()
        critic_loss.backward()
        critic_norm = clip_grad_norm_per_group(self.critic, cfg.max_grad_norm)
        self.critic_opt.step()

        actor_loss = self.actor_loss(b)
        self.actor_opt.zero_grad()
        actor_loss.backward()  # critic grads from this pass are zeroed before the next critic step
        actor_norm = clip_grad_norm_per_group(self.actor, cfg.max_grad_norm)
        self.actor_opt.step()

        with torch.no_grad():
            for target_net, online in ((self.target_actor, self.actor), (self.target_critic, self.critic)):
                for t, p in zip(target_net.parameters(), online.parameters()):
                    t.lerp_(p, cfg.tau)
        return {"critic": critic_loss.item() / n, "actor": actor_loss.item() / n, "q_mean": q.mean().item(),
                "grad_norm_actor": actor_norm.mean().item(), "grad_norm_critic": critic_norm.mean().item()}

    # ------------------------------------------------------------------ the training loop

    def learn(self, total_steps: int, callback: Callback | None = None) -> None:
        cfg = self.config
        while self.env_steps < total_steps:
            finished = self.collect()
            stats: dict[str, list[float]] = {k: [] for k in ("critic", "actor", "q_mean", "grad_norm_actor",
                                                             "grad_norm_critic")}
            if len(self.replay) >= max(cfg.learning_starts, 1):
                for _ in range(cfg.updates):
                    for key, val in self.update().items():
                        stats[key].append(val)
            self.iterations += 1
            metrics = {"env_steps": self.env_steps, "episodes": self.episodes, "iterations": self.iterations,
                       **episode_metrics(finished, self.info.agents), **self._team_metrics(finished),
                       "charts/noise_std": self.noise_std() if self.continuous else math.nan,
                       **{f"losses/{k}": float(np.mean(v)) if v else math.nan for k, v in stats.items()}}
            if callback is not None and callback(self, metrics) is False:
                break

    def _team_metrics(self, finished: list[tuple[int, np.ndarray, int]]) -> dict[str, float]:
        if self.teams is None:
            return {}
        if not finished:
            return {f"charts/team_return/{t}": math.nan for t in self.teams}
        returns = np.stack([r for _, r, _ in finished])  # [episodes, N]
        return {f"charts/team_return/{t}": float(r.mean())
                for t, r in team_returns(returns, self.info.agents, self.teams).items()}

    # ------------------------------------------------------------------ saving and loading

    _SAVED = ("actor", "critic", "target_actor", "target_critic", "actor_opt", "critic_opt")

    def state_dict(self) -> dict:
        return {**{name: getattr(self, name).state_dict() for name in self._SAVED},
                "replay": self.replay.state_dict(), **self.save_position({"last": self.last})}

    def load_state_dict(self, state: dict) -> None:
        for name in self._SAVED:
            getattr(self, name).load_state_dict(state[name])
        self.replay.load_state_dict(state["replay"])
        collector = self.load_position(state)
        if collector is not None:
            self.last = collector["last"]
