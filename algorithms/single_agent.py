"""Single learner against fixed opponents: one agent learns with PPO, every other agent plays a fixed policy.

This is "single-agent RL" in the advisor's catalogue: the other agents are part of the environment
(Sutton & Barto 2018), the learner is PPO (Schulman et al. 2017). Opponents are `random`, a scripted
`package.module:function`, or `checkpoint:RUN_DIR` (see algorithms/core/opponents.py).

How it is built (composition, no copied PPO code): `LearnerSeat` wraps the batched env so that it looks
like a one-agent env, the learner's column; its step() asks the opponents for their actions and fills
the learner's in. MAPPO's machinery (networks, rollout, GAE, clipped PPO update) then runs unchanged on
that one-agent view with a local critic. Turn-based games need nothing special: on the opponents'
turns the learner's `active` flag is off, so those rows stay out of the policy loss while the critic
still learns from them (and the learner still receives the reward the opponent's move gives it).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from algorithms.errors import MARLError, did_you_mean
from algorithms.core.metrics import episode_metrics
from algorithms.core.opponents import Opponents, PolicyLoader, parse_opponent_spec
from algorithms.core.vec_env import EnvInfo, Step, VecEnv
from algorithms.core.env_registry import make_vec_env
from algorithms.base import Algorithm, Callback
from algorithms.mappo import MAPPO, PPOConfig


@dataclass
class SingleAgentConfig(PPOConfig):
    """PPO for one learner (MAPPO's machinery, PPOConfig's defaults); the other agents play `opponents`."""

    action_spaces = frozenset({"discrete", "continuous"})
    reward_settings = frozenset({"cooperative", "competitive", "mixed"})
    policy_type = "on-policy"
    needs_state = False

    centralised_critic: bool = False
    """Must stay false: the learner's critic reads the learner's own observation only."""
    agent_id_input: bool = False
    """Off: with one learner the agent id is a constant."""
    learner: str = ""
    """The agent that learns (e.g. player_0); empty: the env's first agent."""
    opponents: str = "random"
    """Policy of every other agent: random, package.module:function (a scripted heuristic), or checkpoint:RUN_DIR."""

    def validate(self) -> None:
        super().validate()
        if self.centralised_critic:
            raise MARLError("bad-config-value", "single_agent's critic reads the learner's observation only",
                               "leave centralised_critic=false (use mappo for a centralised critic)")
        parse_opponent_spec(self.opponents)


def resolve_learner(name: str, info: EnvInfo) -> int:
    """The learner's agent index; an unknown name is an error that suggests the closest agent."""
    if not name:
        return 0
    if name not in info.agents:
        raise MARLError("unknown-agent", f"learner '{name}' is not an agent of '{info.env_id}'",
                           did_you_mean(name, info.agents) or f"agents: {', '.join(info.agents)}")
    return info.agents.index(name)


# ---------------------------------------------------------------------------------------------------
# The env as the learner sees it


class LearnerSeat:
    """A one-agent VecEnv view of `envs`: the learner's column; the opponents act inside step()."""

    def __init__(self, envs: VecEnv, learner: int, opponents: Opponents):
        self.inner, self.learner, self.opponents = envs, learner, opponents
        self.num_envs = envs.num_envs
        full, i = envs.info, learner
        self.info = dataclasses.replace(
            full, agents=(full.agents[i],), obs_sizes=(full.obs_sizes[i],), action_sizes=(full.action_sizes[i],),
            action_low=full.action_low[i: i + 1], action_high=full.action_high[i: i + 1])
        self.last: Step | None = None  # the full step that the next action answers
        self.finished: list[tuple[int, np.ndarray, int]] = []  # full per-agent returns, drained by learn()
        self.trace: list[tuple[np.ndarray, np.ndarray]] = []  # per step: opponents' actions [K, M], acted [K, M]

    def view(self, s: Step) -> Step:
        col = slice(self.learner, self.learner + 1)
        return Step(s.obs[:, col], s.state, s.action_mask[:, col], s.active[:, col], s.alive[:, col],
                    s.reward[:, col], s.terminated[:, col], s.truncated[:, col], s.episode_end, s.final_obs[:, col],
                    s.final_state, [(k, r[col], n) for k, r, n in s.finished])

    def start(self, full: Step) -> Step:
        self.last = full
        return self.view(full)

    def reset(self, seed: int | None = None) -> Step:
        return self.start(self.inner.reset(seed))

    def step(self, actions: np.ndarray) -> Step:  # actions [K, 1] or [K, 1, action_dim]
        full = self.opponents.act(self.last)
        full[:, self.learner] = actions[:, 0]
        seats = self.opponents.seats
        self.trace.append((full[:, seats].copy(), self.last.active[:, seats].copy()))
        nxt = self.inner.step(full)
        self.finished += nxt.finished
        return self.start(nxt)

    def snapshot(self) -> bytes | None:
        return getattr(self.inner, "snapshot", lambda: None)()

    def restore(self, blob: bytes) -> None:
        self.inner.restore(blob)

    def close(self) -> None:
        self.inner.close()


def learner_metrics(finished: list[tuple[int, np.ndarray, int]], learner: int) -> dict[str, float]:
    """The learner's mean return and win rate (its return above every other agent's) over finished episodes."""
    if not finished:
        return {"charts/learner_return": float("nan"), "charts/learner_win_rate": float("nan")}
    returns = np.stack([r for _, r, _ in finished])  # [episodes, N]
    mine, others = returns[:, learner], np.delete(returns, learner, axis=1)
    wins = mine > others.max(axis=1) if others.size else np.ones_like(mine, bool)
    return {"charts/learner_return": float(mine.mean()), "charts/learner_win_rate": float(wins.mean())}


def play_learner(algo: "SingleAgent", env_id: str, env_kwargs: dict | None, episodes: int,
                 seed: int = 123) -> dict[str, float]:
    """learner_metrics of `episodes` greedy episodes (the first to finish, 16 copies) of a trained learner."""
    envs = make_vec_env(env_id, env_kwargs or {}, num_envs=16)
    step, finished = envs.reset(seed=seed), []
    while len(finished) < episodes:
        actions, _ = algo.act(step, None, deterministic=True)
        step = envs.step(actions)
        finished += step.finished
    envs.close()
    return learner_metrics(finished[:episodes], algo.learner)


# ---------------------------------------------------------------------------------------------------
# The algorithm: MAPPO on the learner's seat


class SingleAgent(Algorithm):
    """Owns the full env (its `info` names every agent, so evaluation reports them all) and delegates
    learning to `learner_cls` (MAPPO, or a subclass of it) running on the learner's seat."""

    config: SingleAgentConfig
    learner_cls: type[MAPPO] = MAPPO
    progress_metric = ("learner return", "charts/learner_return")

    def __init__(self, config: SingleAgentConfig, envs: VecEnv, device: torch.device,
                 load_policy: PolicyLoader | None = None):
        super().__init__(config, envs, device)
        self.learner = resolve_learner(config.learner, envs.info)
        seats = [j for j in range(envs.info.n_agents) if j != self.learner]
        # Drawn from the seeded global RNG: the same run seed gives the same opponent randomness.
        seed = int(torch.randint(2**31 - 1, ()).item())
        self.opponents = Opponents(config.opponents, envs.info, seats, seed, load_policy)
        self.eval_opponents = self.opponents.fresh(seed + 1)  # act() gets its own stream and memory
        self.seat = LearnerSeat(envs, self.learner, self.opponents)
        self.ppo = self.learner_cls(config, self.seat, device)

    def _sync_counters(self) -> None:
        self.env_steps, self.iterations, self.episodes = self.ppo.env_steps, self.ppo.iterations, self.ppo.episodes

    def begin(self, first: Step) -> None:
        """`first` is the full env's step (what the trainer resets); the learner sees its column."""
        self.ppo.begin(self.seat.start(first))

    def has_env_position(self) -> bool:
        return self.ppo.has_env_position()

    def initial_memory(self, num_envs: int) -> Any:
        return self.ppo.initial_memory(num_envs)

    def reset_memory(self, memory: Any, episode_end: np.ndarray) -> Any:
        return self.ppo.reset_memory(memory, episode_end)

    @torch.no_grad()
    def policy_agents(self) -> tuple[str, ...]:
        return (self.info.agents[self.learner],)

    def act(self, step: Step, memory: Any, deterministic: bool) -> tuple[np.ndarray, Any]:
        """Full-env actions: the learner's policy in its seat, the fixed policy in the others."""
        actions = self.eval_opponents.act(step)
        mine, memory = self.ppo.act(self.seat.view(step), memory, deterministic)
        actions[:, self.learner] = mine[:, 0]
        return actions, memory

    def learn(self, total_steps: int, callback: Callback | None = None) -> None:
        if not self.ppo.has_env_position():
            self.begin(self.envs.reset())
        while self.env_steps < total_steps:
            self.seat.trace.clear()
            batch, _ = self.ppo.collect()
            losses = self.ppo.update(batch)
            self._sync_counters()
            finished, self.seat.finished = self.seat.finished, []
            metrics = {"env_steps": self.env_steps, "episodes": self.episodes, "iterations": self.iterations,
                       **episode_metrics(finished, self.info.agents),
                       **learner_metrics(finished, self.learner), **losses}
            if callback is not None and callback(self, metrics) is False:
                break

    def state_dict(self) -> dict:
        return {**self.ppo.state_dict(), "opponents": self.opponents.state_dict(), "seat_last": self.seat.last}

    def load_state_dict(self, state: dict) -> None:
        self.ppo.load_state_dict(state)
        self._sync_counters()
        self.opponents.load_state_dict(state["opponents"])
        if self.ppo.has_env_position():  # the env copies were restored mid-episode: so is the full step
            self.seat.last = state["seat_last"]
