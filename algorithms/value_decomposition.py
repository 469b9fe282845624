"""IQL, VDN, QMIX and QPLEX: one Q-learner, the mixer chosen by the config, on one of two schedules.

Tan 1993 / Tampuu et al. 2017 (IQL: no mixer, each agent learns from its own reward);
Sunehag et al. 2018 (VDN: Q_tot = sum of utilities); Rashid et al. 2018 (QMIX: monotonic mixing network
conditioned on the state); Wang et al. 2021 (QPLEX: duplex dueling, full IGM class). Mixers: core/mixers.py.
Schedules: `parallel` (the default; PQN, Gallici et al. 2024: many copies, TD(lambda) over each fresh rollout, a
few epochs of minibatches, no replay and no target network; with `layer_norm`) and `replay` (EPyMARL's: episodes
in a replay buffer, a target network). Measured against each other in docs/defaults.md.
Read top to bottom (the configs: value_config.py): the agent network, acting (epsilon-greedy), collecting
(into replay, or the rollout), the replay TD update (double Q-learning, target networks, optional TD(lambda)),
the parallel update, the training loop, saving.
"""
from __future__ import annotations

import copy
from typing import Any

import numpy as np
import torch
from torch import nn

from algorithms.base import Algorithm, Callback
from algorithms.core.action_spaces import JointActions
from algorithms.core.distributions import open_masks
from algorithms.core.memory import require_fits
from algorithms.core.metrics import episode_metrics
from algorithms.core.mixers import make_mixer, team_done, team_value
from algorithms.core.networks import AgentLinear, ImageLayout, Torso, image_layout
from algorithms.core.normalization import RunningStd
from algorithms.core.replay import EpisodeBuilder, EpisodeReplay
from algorithms.core.td_targets import lambda_returns
from algorithms.core.tensors import to_numpy, to_tensor
from algorithms.core.vec_env import Step, VecEnv
from algorithms.value_config import (MIXERS, IQLConfig, QMIXConfig, QPLEXConfig, ValueDecompositionConfig,
                                     VDNConfig)

__all__ = ["ValueDecomposition", "ValueDecompositionConfig", "QMIXConfig", "QPLEXConfig", "VDNConfig", "IQLConfig",
           "MIXERS"]  # the configs live in value_config.py

# ---------------------------------------------------------------------------------------------------
# The agent network: agents are a tensor axis; inputs [..., N, features] -> utilities [..., N, A]


REPLAY_HINT = ("lower --set buffer_size (or max_episode_len), or make observations smaller "
               "(--env-kwarg obs_resize=HxW for images)")
ROLLOUT_HINT = "lower --num-envs or --set rollout_steps, or make observations smaller (--env-kwarg obs_resize=HxW)"


class AgentQNet(nn.Module):
    def __init__(self, in_features: int, cfg: ValueDecompositionConfig, n_actions: int, n_agents: int,
                 image: ImageLayout | None = None):
        super().__init__()
        per_agent = None if cfg.share_parameters else n_agents
        self.torso = Torso(in_features, cfg.hidden_size, cfg.layers, per_agent, cfg.recurrent, cfg.activation,
                           cfg.layer_norm, image=image)
        self.head = AgentLinear(cfg.hidden_size, n_actions, per_agent, gain=1.0)


class ValueDecomposition(Algorithm):
    config: ValueDecompositionConfig

    def __init__(self, config: ValueDecompositionConfig, envs: VecEnv, device: torch.device):
        super().__init__(config, envs, device)
        info, n, cfg = self.info, self.info.n_agents, config
        # Episode lengths are unknown until episodes end: refuse now only what cannot fit even with one-step
        # episodes (and the episode being built on each copy); the stored episodes are projected as they come.
        per_step = n * info.obs_dim * np.dtype(info.obs_dtype).itemsize + 4 * (info.state_dim + 2 * n)
        self.parallel = cfg.schedule == "parallel"
        if self.parallel:  # each step's row and the next (or final) one on every copy, and the update's stacked
            require_fits(f"a {cfg.rollout_steps}-step rollout on {envs.num_envs:,} copies",  # copy of one of them
                         3 * cfg.rollout_steps * envs.num_envs * per_step, ROLLOUT_HINT)
        else:
            require_fits(f"{cfg.buffer_size:,} episodes in replay", (cfg.buffer_size * 2 + envs.num_envs *
                         (cfg.max_episode_len + 1)) * per_step, REPLAY_HINT)
        self.next_memory_check = 1
        # Factorised (MultiDiscrete) actions become one Discrete over their combinations: utilities, masks and
        # replay hold joint indices; act() hands the env its component values.
        self.joint = JointActions(info, type(cfg).__name__.removesuffix("Config"))
        id_dim = n if cfg.agent_id_input else 0
        self.agent = AgentQNet(info.obs_dim + id_dim, cfg, self.joint.size, n,
                               image_layout(info.obs_image, info.image_scale, cfg.conv_encoder)).to(device)
        self.mixer = make_mixer(cfg.mixer, n, info.state_dim, self.joint.size, cfg.mixing_embed,
                                cfg.hypernet_hidden, cfg.qplex_heads, cfg.mixer_state_norm)
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
        self.rollout: list[dict[str, np.ndarray]] = []  # parallel: the latest collection's transitions

    def uses_state(self) -> bool:  # VDN's sum and IQL read no state
        return self.config.mixer in ("qmix", "qplex")

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

    # ------------------------------------------------------------------ acting

    def epsilon(self) -> float:
        cfg = self.config
        frac = min(self.env_steps / cfg.epsilon_anneal_steps, 1.0) if cfg.epsilon_anneal_steps else 1.0
        return cfg.epsilon_start + frac * (cfg.epsilon_finish - cfg.epsilon_start)

    def select(self, q: torch.Tensor, mask: torch.Tensor, epsilon: float) -> torch.Tensor:
        """Epsilon-greedy over valid actions: q, mask [K, N, A] -> actions [K, N]."""
        valid = open_masks(mask)
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
    def act_joint(self, step: Step, memory: Any, deterministic: bool) -> tuple[np.ndarray, Any]:
        """Actions [K, N] as joint indices (the env's own for Discrete actions; JointActions for factorised)."""
        obs = to_tensor(step.obs, self.device)
        q, memory = self.q_values(obs, memory)
        action = self.select(q, to_tensor(self.joint.mask(step.action_mask), self.device),
                             0.0 if deterministic else self.epsilon())
        return to_numpy(action), memory

    def act(self, step: Step, memory: Any, deterministic: bool) -> tuple[np.ndarray, Any]:
        action, memory = self.act_joint(step, memory, deterministic)
        return self.joint.components(action), memory

    # ------------------------------------------------------------------ collecting episodes into replay

    def begin(self, first: Step) -> None:
        self.last = first
        self.memory = self.initial_memory(self.envs.num_envs)
        self.builder = EpisodeBuilder(self.envs.num_envs, self.config.max_episode_len)
        self.rollout = []

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
            actions, self.memory = self.act_joint(step, self.memory, deterministic=False)
            nxt = self.envs.step(self.joint.components(actions))
            now = {"obs": step.obs, "state": step.state, "mask": self.joint.mask(step.action_mask),
                   "alive": step.alive, "active": step.active}
            taken = {"action": actions, "reward": nxt.reward, "terminated": nxt.terminated}
            self.reward_std.update(nxt.reward)
            if self.parallel:  # every transition carries its next row: shuffled transitions bootstrap alone
                after = self._after(step, nxt, nxt.episode_end)
                self.rollout.append({**now, **taken, "cut": nxt.episode_end,
                                     **{f"next_{k}": v for k, v in after.items()}})
            else:
                self.builder.add(now, taken)
                close = nxt.episode_end | self.builder.full()
                if close.any():
                    for episode in self.builder.finish(close, self._after(step, nxt, nxt.episode_end)):
                        self.replay.add(episode)
                        self.stored += 1
                    self._check_replay_memory()
            self.memory = self.reset_memory(self.memory, nxt.episode_end)
            self.last = nxt
            finished += nxt.finished
        self.env_steps += self.config.rollout_steps * self.envs.num_envs
        self.episodes += len(finished)
        return finished

    def _after(self, step: Step, nxt: Step, ended: np.ndarray) -> dict[str, np.ndarray]:
        """The row after `step`. Ended copies: the final observation (its mask is unknown: every real action is
        open there, padded ones stay closed; no action follows a terminal one). Others: the next row. Who is
        still in at the final observation: those in at the last step that did not terminate on it (an agent
        that left earlier stays out: it is not `terminated` again at the end)."""
        still_in = step.alive & ~nxt.terminated
        return {"obs": np.where(ended[:, None, None], nxt.final_obs, nxt.obs),
                "state": np.where(ended[:, None], nxt.final_state, nxt.state),
                "mask": np.where(ended[:, None, None], self.joint.real, self.joint.mask(nxt.action_mask)),
                "alive": np.where(ended[:, None], still_in, nxt.alive),
                "active": np.where(ended[:, None], still_in, nxt.active)}

    def _check_replay_memory(self) -> None:
        """Whether `buffer_size` episodes like those stored so far fit in memory: checked at the first stored episode
        and again each time the count doubles until the buffer is full (episodes may grow as agents learn)."""
        stored = len(self.replay)
        if stored >= min(self.next_memory_check, self.config.buffer_size):
            require_fits(f"{self.config.buffer_size:,} episodes in replay like the {stored:,} stored so far",
                         self.replay.projected_bytes(), REPLAY_HINT)
            self.next_memory_check = 2 * stored if stored < self.config.buffer_size else float("inf")

    # ------------------------------------------------------------------ the TD update

    def td_errors(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """TD errors and their loss mask from time-major episodes (obs [T+1, B, N, O], action [T, B, N],
        ...). IQL: per agent, [T, B, N], each agent's from its own data only. Mixers: [T, B]."""
        cfg = self.config
        obs, state, mask, action = batch["obs"], batch["state"].float(), batch["mask"], batch["action"]
        filled = batch["filled"]                                              # [T, B]
        valid = open_masks(mask)                                              # [T+1, B, N, A]
        q = self._q_sequence(self.agent, obs)                                 # [T+1, B, N, A]
        q_taken = q[:-1].gather(-1, action.unsqueeze(-1)).squeeze(-1)         # [T, B, N]
        with torch.no_grad():
            target_q = self._q_sequence(self.target_agent, obs)
            chooser = q.detach() if cfg.double_q else target_q
            next_action = chooser[1:].masked_fill(~valid[1:], -torch.inf).argmax(-1)       # [T, B, N]
            next_q = target_q[1:].gather(-1, next_action.unsqueeze(-1)).squeeze(-1)       # [T, B, N]
        reward, terminated = self._scaled(batch["reward"]), batch["terminated"]  # [T, B, N]
        if self.mixer is None:
            target = lambda_returns(reward, terminated, next_q, filled.unsqueeze(-1), cfg.gamma, cfg.td_lambda)
            return q_taken - target, filled.unsqueeze(-1) & batch["active"][:-1]
        live = batch["alive"].float()                                         # [T+1, B, N]
        q_tot = team_value(self.mixer, q[:-1], action, valid[:-1], live[:-1], state[:-1])  # [T, B]
        with torch.no_grad():
            next_tot = team_value(self.target_mixer, target_q[1:], next_action, valid[1:], live[1:], state[1:])
            target = lambda_returns(reward.mean(-1), team_done(terminated, batch["alive"][:-1]), next_tot,
                                    filled, cfg.gamma, cfg.td_lambda)
        return q_tot - target, filled

    def _scaled(self, reward: torch.Tensor) -> torch.Tensor:
        cfg = self.config
        if not cfg.standardise_rewards:
            return reward
        # As EPyMARL: a constant shift only matters where episode lengths vary.
        return (reward - self.reward_std.mean if cfg.reward_mean_shift else reward) / self.reward_std.std

    # ------------------------------------------------------------------ the parallel schedule (PQN)

    @torch.no_grad()
    def _rollout_targets(self, b: dict[str, torch.Tensor]) -> torch.Tensor:
        """TD(lambda) targets [T, K] (IQL: [T, K, N]) over the rollout from the network as it is now: each step
        bootstraps from its next (or final) row, and a lambda-chain runs on only within an episode."""
        cfg = self.config
        next_q, _ = self.q_values(b["next_obs"], None)                        # [T, K, N, A]
        next_valid = open_masks(b["next_mask"])
        next_action = next_q.masked_fill(~next_valid, -torch.inf).argmax(-1)  # [T, K, N]
        reward, terminated = self._scaled(b["reward"]), b["terminated"]
        chained = torch.cat([torch.ones_like(b["cut"][:1]), ~b["cut"][:-1]])  # step t+1 continues step t's episode
        if self.mixer is None:
            value = next_q.gather(-1, next_action.unsqueeze(-1)).squeeze(-1)
            return lambda_returns(reward, terminated, value, chained.unsqueeze(-1), cfg.gamma, cfg.td_lambda)
        value = team_value(self.mixer, next_q, next_action, next_valid, b["next_alive"].float(),
                           b["next_state"].float())
        return lambda_returns(reward.mean(-1), team_done(terminated, b["alive"]), value, chained, cfg.gamma,
                              cfg.td_lambda)

    def _parallel_update(self) -> list[dict[str, float]]:
        """`epochs` shuffled passes of `minibatches` gradient steps over the latest collection, then drop it."""
        cfg = self.config
        # Stacked one field at a time, each dropped from the rows once stacked: a rollout of images is held about
        # once, not twice.
        b = {k: to_tensor(np.stack([row.pop(k) for row in self.rollout]), self.device) for k in list(self.rollout[0])}
        self.rollout = []
        b["action"] = b["action"].long()
        target = self._rollout_targets(b).flatten(0, 1)
        flat = {k: b[k].flatten(0, 1) for k in ("obs", "state", "mask", "alive", "active", "action")}
        total, stats = target.shape[0], []
        size = -(-total // cfg.minibatches)
        for _ in range(cfg.epochs):
            order = torch.randperm(total, device=self.device)
            for start in range(0, total, size):
                idx = order[start:start + size]
                q, _ = self.q_values(flat["obs"][idx], None)                  # [B, N, A]
                if self.mixer is None:
                    pred = q.gather(-1, flat["action"][idx].unsqueeze(-1)).squeeze(-1)
                    weight = flat["active"][idx].float()
                else:
                    pred = team_value(self.mixer, q, flat["action"][idx], open_masks(flat["mask"][idx]),
                                      flat["alive"][idx].float(), flat["state"][idx].float())
                    weight = torch.ones_like(pred)
                stats.append(self._gradient_step(pred - target[idx], weight))
        return stats

    def _train_step(self, sample: dict[str, np.ndarray]) -> dict[str, float]:
        batch = {k: to_tensor(v, self.device).transpose(0, 1) for k, v in sample.items()}
        batch["action"] = batch["action"].long()
        errors, weight = self.td_errors(batch)
        stats = self._gradient_step(errors, weight.float())
        self._update_targets()
        return stats

    def _gradient_step(self, errors: torch.Tensor, weight: torch.Tensor) -> dict[str, float]:
        loss = (errors.pow(2) * weight).sum() / weight.sum().clamp(min=1.0)
        self.opt.zero_grad()
        loss.backward()
        grad_norm = nn.utils.clip_grad_norm_(self.params, self.config.max_grad_norm)
        self.opt.step()
        self.updates += 1
        return {"td": loss.item(), "abs_td_error": float((errors.detach().abs() * weight).sum()
                                                         / weight.sum().clamp(min=1.0)), "grad_norm": float(grad_norm)}

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
        steps: list[dict[str, float]] = []
        if self.parallel and self.rollout:
            steps = self._parallel_update()
        elif not self.parallel and len(self.replay) >= self.config.batch_size:
            steps = [self._train_step(self.replay.sample(self.config.batch_size))
                     for _ in range(self.config.updates_per_iteration or self.stored)]
        for step_stats in steps:
            for key, value in step_stats.items():
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
