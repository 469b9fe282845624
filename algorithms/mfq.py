"""MF-Q: mean-field Q-learning (Yang et al. 2018, "Mean Field Multi-Agent Reinforcement Learning", Alg. 1).

Agent j's Q-function reads its own observation and the mean one-hot action of its neighbours,
Q(o_j, a_j, mean_a_j), so its input has the same size for 10 agents or 1,000. Neighbours are the live agents of
j's team (core/mean_field.py), or those within `radius`. Every team has its own network, shared by its members,
and learns from its members' own rewards, so cooperative, competitive and mixed games (two armies in MAgent's
battle) all work.

The paper's order of updates: at step t each agent samples its action from a Boltzmann policy over
Q(o_t, ., mean_a_{t-1}) (its neighbours' mean action of the step before; zeros at the start of an episode),
then the mean actions of step t are computed from the actions taken and stored with the transition. The target
is r + gamma * v_MF(o_{t+1}), v_MF = sum_a pi(a | o_{t+1}, mean_a_t) Q_target(o_{t+1}, a, mean_a_t): the
Boltzmann expectation, with mean_a_t standing in for the next step's mean action (Eq. 11-13).
`mean_action=false` gives the paper's independent-learner baseline: the same learner without the mean action.

Deviations (docs/mean-field.md): v_MF's Boltzmann policy comes from the online network (Alg. 1: the target
network), the target network is copied hard every `target_update_interval` steps (Alg. 1: soft updates), and the
stored mean action is step t's (the paper's), where the authors' released code stores the acting-time mean_a_{t-1}.

Discrete actions only: a continuous action's "mean action" is the mean vector, which the same input could take,
but the Boltzmann policy and v_MF's sum over actions would need an actor (MF-AC with a Gaussian policy).
Read top to bottom: config, network, acting, collecting, the update, the loop, saving.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from algorithms.base import (Algorithm, AlgorithmConfig, Callback, require_choice, require_non_negative,
                             require_positive, require_unit_interval)
from algorithms.core.distributions import open_masks
from algorithms.core.mean_field import Neighbourhood, TeamNetworks, boltzmann, parse_columns
from algorithms.core.metrics import episode_metrics
from algorithms.core.networks import ACTIVATIONS, CONV_ENCODER, AgentLinear, Torso, image_layout
from algorithms.core.normalization import RunningStd
from algorithms.core.teams import resolve_teams
from algorithms.core.tensors import to_numpy, to_tensor
from algorithms.core.transition_replay import FieldSpec, TransitionReplay
from algorithms.core.vec_env import Step, VecEnv
from algorithms.errors import MARLError


@dataclass
class MeanFieldConfig(AlgorithmConfig):
    """The fields MF-Q and MF-AC share: the neighbourhood, the networks, the optimiser."""

    action_spaces = frozenset({"discrete"})
    reward_settings = frozenset({"cooperative", "competitive", "mixed"})
    needs_state = False
    default_num_envs = (8, 4)

    teams: str = "auto"
    """Who shares a network and a neighbourhood: auto (by the agent name before the last '_': red_*, blue_*),
    fnmatch patterns 'red_*;blue_*', or '' (every agent alone: mean actions are then all zero)."""
    radius: float = 0.0
    """0: every live teammate is a neighbour. > 0: only teammates within this distance (needs position_columns)."""
    position_columns: str = "2:4"
    """With radius > 0: the observation columns holding each agent's own coordinates (MPE: 2:4)."""
    mean_action: bool = True
    """Condition on the neighbours' mean action; false: the paper's independent-learner baseline."""
    rollout_steps: int = 25
    """Steps taken on every env copy between updates."""
    hidden_size: int = 64
    """Width of the hidden layers (MF-Q's network; MF-AC's actor and critic)."""
    layers: int = 2
    """Hidden layers of each network."""
    activation: str = "relu"
    """Hidden-layer activation: relu or tanh."""
    conv_encoder: str = "auto"
    """Image observations: auto (a CNN when images are at least 16 pixels a side), on, or off."""
    lr: float = 5e-4
    """Adam learning rate."""
    gamma: float = 0.95
    """Discount factor."""
    max_grad_norm: float = 10.0
    """Gradient-norm clip."""
    standardise_rewards: bool = True
    """Divide rewards by their running standard deviation (not shifted: in games where agents die, a shift
    would make staying alive look better or worse than it is)."""

    def validate(self) -> None:
        require_positive(self, "rollout_steps", "hidden_size", "layers", "lr", "max_grad_norm")
        require_unit_interval(self, "gamma")
        require_choice(self, "activation", ACTIVATIONS)
        require_choice(self, "conv_encoder", CONV_ENCODER)
        require_non_negative(self, "radius")
        if self.radius > 0:
            try:
                parse_columns(self.position_columns)
            except ValueError as err:
                raise MARLError("bad-config-value", str(err)) from None


@dataclass
class MFQConfig(MeanFieldConfig):
    """Defaults: our value learners' where they apply (value_config.py); the temperature schedule is ours."""

    policy_type = "off-policy"

    updates_per_iteration: int = 10
    """Gradient steps after each collection, each on `batch_size` joint steps (every agent's transition)."""
    batch_size: int = 32
    """Joint steps per gradient step: batch_size x agents transitions."""
    buffer_size: int = 200_000
    """Agent transitions kept in replay (joint steps kept: this divided by the number of agents)."""
    learning_starts: int = 1_000
    """Env steps (summed over copies) collected before the first gradient step."""
    target_update_interval: int = 200
    """Copy the online network into the target every this many gradient steps."""
    temperature_start: float = 1.0
    """Boltzmann temperature at the start of training (on standardised rewards' scale)."""
    temperature_finish: float = 0.1
    """Boltzmann temperature after annealing."""
    temperature_anneal_steps: int = 50_000
    """Env steps (summed over copies) over which the temperature falls linearly from start to finish."""

    def validate(self) -> None:
        super().validate()
        require_positive(self, "updates_per_iteration", "batch_size", "buffer_size", "target_update_interval",
                         "temperature_start", "temperature_finish")
        require_non_negative(self, "learning_starts", "temperature_anneal_steps")


def build_neighbourhood(config: MeanFieldConfig, envs: VecEnv, device: torch.device) -> tuple[list[int], Neighbourhood]:
    """Teams and neighbourhood for MF-Q and MF-AC, checking position_columns against the observation size."""
    info = envs.info
    team_of, _ = resolve_teams(config.teams, info.agents)
    if config.radius > 0 and parse_columns(config.position_columns)[1] > info.obs_dim:
        raise MARLError("bad-config-value", f"position_columns {config.position_columns} lies beyond the "
                                            f"{info.obs_dim} observation columns of '{info.env_id}'")
    return team_of, Neighbourhood(team_of, info.action_dim, config.radius, config.position_columns, device)


class QNet(nn.Module):
    """One team's network: input features (observation, and the neighbours' mean action for a Q-function)
    -> one output per own action (values, or logits for MF-AC's actor)."""

    def __init__(self, in_features: int, config: Any, n_actions: int, image, gain: float = 1.0):
        super().__init__()
        self.torso = Torso(in_features, config.hidden_size, config.layers, None, False, config.activation, image=image)
        self.head = AgentLinear(config.hidden_size, n_actions, None, gain=gain)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.torso(x, None)[0])


class MFQ(Algorithm):
    config: MFQConfig

    def __init__(self, config: MFQConfig, envs: VecEnv, device: torch.device):
        super().__init__(config, envs, device)
        info, n, a = self.info, self.info.n_agents, self.info.action_dim
        self.team_of, self.neighbourhood = build_neighbourhood(config, envs, device)
        image = image_layout(info.obs_image, info.image_scale, config.conv_encoder)
        self.q = TeamNetworks(self.team_of, lambda: QNet(info.obs_dim + a, config, a, image)).to(device)
        self.target_q = copy.deepcopy(self.q)
        self.opt = torch.optim.Adam(self.q.parameters(), lr=config.lr)
        obs_dtype = torch.uint8 if info.obs_dtype == np.uint8 else torch.float32
        fields = {"obs": FieldSpec((n, info.obs_dim), obs_dtype), "mean": FieldSpec((n, a), torch.float32),
                  "action": FieldSpec((n,), torch.long), "reward": FieldSpec((n,), torch.float32),
                  "next_obs": FieldSpec((n, info.obs_dim), obs_dtype), "next_mask": FieldSpec((n, a), torch.bool),
                  "terminated": FieldSpec((n,), torch.bool), "active": FieldSpec((n,), torch.bool)}
        self.replay = TransitionReplay(max(config.buffer_size // n, config.batch_size), fields, device)
        self.reward_std = RunningStd()
        self.last: Step | None = None
        self.memory: torch.Tensor | None = None
        self.updates = 0

    # ------------------------------------------------------------------ acting

    def temperature(self) -> float:
        cfg = self.config
        frac = min(self.env_steps / cfg.temperature_anneal_steps, 1.0) if cfg.temperature_anneal_steps else 1.0
        return cfg.temperature_start + frac * (cfg.temperature_finish - cfg.temperature_start)

    def q_values(self, net: nn.Module, obs: torch.Tensor, mean: torch.Tensor) -> torch.Tensor:
        """obs [..., N, O], mean [..., N, A] -> Q [..., N, A]; the mean action is zeroed for the IL baseline."""
        mean = mean if self.config.mean_action else torch.zeros_like(mean)
        return net(torch.cat([obs.float(), mean], dim=-1))

    def initial_memory(self, num_envs: int) -> torch.Tensor:
        """The neighbours' mean action of the previous step (none yet: zeros)."""
        return torch.zeros(num_envs, self.info.n_agents, self.info.action_dim, device=self.device)

    def reset_memory(self, memory: Any, episode_end: np.ndarray) -> Any:
        return memory * to_tensor(~episode_end, self.device, torch.float32)[:, None, None]

    @torch.no_grad()
    def choose(self, step: Step, memory: torch.Tensor, deterministic: bool) -> tuple[torch.Tensor, torch.Tensor]:
        """Actions [K, N] from Q(o_t, ., mean_a_{t-1}), and the mean actions of step t [K, N, A] they make."""
        obs = to_tensor(step.obs, self.device)
        valid = open_masks(to_tensor(step.action_mask, self.device))
        q = self.q_values(self.q, obs, memory)
        if deterministic:
            actions = q.masked_fill(~valid, -torch.inf).argmax(-1)
        else:
            probs = boltzmann(q, valid, self.temperature())
            actions = torch.multinomial(probs.flatten(0, -2), 1).view(probs.shape[:-1])
        return actions, self.neighbourhood.mean_actions(obs, actions, to_tensor(step.alive, self.device))

    def act(self, step: Step, memory: Any, deterministic: bool) -> tuple[np.ndarray, Any]:
        if memory is None:
            memory = self.initial_memory(step.obs.shape[0])
        actions, mean = self.choose(step, memory, deterministic)
        return to_numpy(actions), mean

    @torch.no_grad()
    def memory_after(self, step: Step, executed: np.ndarray, memory: Any) -> Any:
        """The neighbours' mean action of the actions executed (not those `choose` picked)."""
        return self.neighbourhood.mean_actions(to_tensor(step.obs, self.device), to_tensor(executed, self.device),
                                               to_tensor(step.alive, self.device))

    # ------------------------------------------------------------------ collecting transitions

    def begin(self, first: Step) -> None:
        self.last, self.memory = first, self.initial_memory(self.envs.num_envs)

    def has_env_position(self) -> bool:
        return self.last is not None

    def collect(self) -> list[tuple[int, np.ndarray, int]]:
        if self.last is None:
            self.begin(self.envs.reset())
        finished: list[tuple[int, np.ndarray, int]] = []
        for _ in range(self.config.rollout_steps):
            step = self.last
            actions, mean = self.choose(step, self.memory, deterministic=False)
            nxt = self.envs.step(to_numpy(actions))
            ended = nxt.episode_end[:, None, None]
            self.replay.add(obs=step.obs, mean=mean, action=actions, reward=nxt.reward,
                            next_obs=np.where(ended, nxt.final_obs, nxt.obs),
                            next_mask=np.where(ended, self.info.real_actions, nxt.action_mask),
                            terminated=nxt.terminated, active=step.active)
            if step.active.any():
                self.reward_std.update(nxt.reward[step.active])
            self.memory = self.reset_memory(mean, nxt.episode_end)
            self.last = nxt
            finished += nxt.finished
        self.env_steps += self.config.rollout_steps * self.envs.num_envs
        self.episodes += len(finished)
        return finished

    # ------------------------------------------------------------------ the update

    def td_errors(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """[B, N] TD errors of every agent's transition against r + gamma * v_MF(o')."""
        cfg = self.config
        q = self.q_values(self.q, batch["obs"], batch["mean"])                       # [B, N, A]
        q_taken = q.gather(-1, batch["action"].unsqueeze(-1)).squeeze(-1)            # [B, N]
        with torch.no_grad():
            valid = open_masks(batch["next_mask"])
            pi = boltzmann(self.q_values(self.q, batch["next_obs"], batch["mean"]), valid, self.temperature())
            target_q = self.q_values(self.target_q, batch["next_obs"], batch["mean"]).masked_fill(~valid, 0.0)
            v_mf = (pi * target_q).sum(-1)                                           # [B, N]
            reward = batch["reward"] / self.reward_std.std if cfg.standardise_rewards else batch["reward"]
            target = reward + cfg.gamma * (~batch["terminated"]).float() * v_mf
        return q_taken - target

    def _train_step(self) -> dict[str, float]:
        batch = self.replay.sample(self.config.batch_size)
        errors = self.td_errors(batch)
        weight = batch["active"].float()
        loss = (errors.pow(2) * weight).sum() / weight.sum().clamp(min=1.0)
        self.opt.zero_grad()
        loss.backward()
        grad_norm = nn.utils.clip_grad_norm_(self.q.parameters(), self.config.max_grad_norm)
        self.opt.step()
        self.updates += 1
        if self.updates % self.config.target_update_interval == 0:
            self.target_q.load_state_dict(self.q.state_dict())
        return {"td": loss.item(), "grad_norm": float(grad_norm)}

    def update(self) -> dict[str, float]:
        stats: dict[str, list[float]] = {"td": [], "grad_norm": []}
        if self.env_steps >= self.config.learning_starts and len(self.replay) >= self.config.batch_size:
            for _ in range(self.config.updates_per_iteration):
                for key, value in self._train_step().items():
                    stats[key].append(value)
        self.iterations += 1
        return {f"losses/{k}": float(np.mean(v)) if v else float("nan") for k, v in stats.items()}

    # ------------------------------------------------------------------ the training loop

    def learn(self, total_steps: int, callback: Callback | None = None) -> None:
        while self.env_steps < total_steps:
            finished = self.collect()
            losses = self.update()
            metrics = {"env_steps": self.env_steps, "episodes": self.episodes, "iterations": self.iterations,
                       **episode_metrics(finished, self.info.agents), "charts/temperature": self.temperature(),
                       **losses}
            if callback is not None and callback(self, metrics) is False:
                break

    # ------------------------------------------------------------------ saving and loading

    def state_dict(self) -> dict:
        return {"q": self.q.state_dict(), "target_q": self.target_q.state_dict(), "opt": self.opt.state_dict(),
                "updates": self.updates, "replay": self.replay.state_dict(), "reward_std": vars(self.reward_std).copy(),
                **self.save_position({"last": self.last, "memory": self.memory})}

    def load_state_dict(self, state: dict) -> None:
        self.q.load_state_dict(state["q"])
        self.target_q.load_state_dict(state["target_q"])
        self.opt.load_state_dict(state["opt"])
        self.updates = state["updates"]
        self.replay.load_state_dict(state["replay"])
        vars(self.reward_std).update(state["reward_std"])
        collector = self.load_position(state)
        if collector is not None:
            self.last, self.memory = collector["last"], collector["memory"]
