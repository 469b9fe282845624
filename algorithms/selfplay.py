"""Self-play with a pool of frozen past versions, for two-player zero-sum games.

Silver et al. 2018 (AlphaZero: train against the current self); Heinrich et al. 2015 / Lanctot et al. 2017
(fictitious play, PSRO: best-respond to a mixture of past policies, weighted uniformly or by a Nash
equilibrium of the "meta-game" between them); Vinyals et al. 2019 (AlphaStar's
prioritised fictitious self-play, PFSP: prefer the opponents the learner still loses to).

How it works, top to bottom:
- The learner is the bundled PPO learner (`MAPPO` with IPPO's local critic, one network for both seats
  with a seat-id input). It sees the game through `OpponentSeats`, a VecEnv wrapper: in every env copy one
  seat is the learner's (copy k starts in seat k % 2 and swaps seats after every episode, so it plays first
  and second equally); the other seat is played by an opponent drawn per episode (the current policy or a
  frozen pool member). The wrapper overwrites the learner's actions at that seat with the opponent's and
  clears the seat's `active` and `alive` masks, so only the learner's own transitions enter the PPO loss.
  Turn-based games keep the adapter's `active` mask: the learner's rows count only on its own turns.
- Every `snapshot_every` iterations the learner is frozen into the pool (at most `pool_size`; the
  oldest goes). The pool's mixture is the policy self-play converges in: uniform over the members
  (fictitious play) or, with `opponent_sampling="nash"`, PSRO's meta-Nash weights: the members' payoffs
  against each other form a symmetric zero-sum matrix game, solved exactly by linear programming.
- Each finished game against a pool member updates the Elo ratings of the learner and that member
  (algorithms/core/rating.py) and the member's score used by prioritised sampling.
"""
from __future__ import annotations

import copy
import pickle
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import torch

from algorithms.errors import MARLError
from algorithms.base import (Algorithm, Callback, require_choice, require_positive, require_two_players,
                             require_unit_interval)
from algorithms.core import rating
from algorithms.core.payoffs import matrix_exploitability, source_payoffs, zero_sum_payoff
from algorithms.core.reference_policies import random_actions
from algorithms.core.game_theory import solve_zero_sum
from algorithms.core.distributions import DiagGaussian, MaskedCategorical
from algorithms.core.metrics import episode_metrics
from algorithms.core.tensors import to_numpy, to_tensor
from algorithms.core.vec_env import Step, VecEnv
from algorithms.mappo import MAPPO, PPOConfig

SAMPLING = ("latest", "uniform", "prioritised", "nash")


@dataclass
class SelfPlayConfig(PPOConfig):
    """PPO (IPPO's local critic) against itself and a pool of past selves. Two-player zero-sum games only
    ("competitive"): a win for one seat is a loss for the other. Discrete actions (action masks respected)
    or continuous ones (Gaussian, as MAPPO's)."""

    action_spaces = frozenset({"discrete", "continuous"})
    reward_settings = frozenset({"competitive"})
    policy_type = "on-policy"
    needs_state = False

    centralised_critic: bool = False
    """Off (IPPO's local critic): each seat's critic reads only its own observation."""
    rollout_steps: int = 64
    """Steps collected from every env copy before each update (both seats' turns count as steps). Bigger
    rollouts give steadier updates: tic-tac-toe holds its bar against random play with 256, not with 64
    (docs/self-play.md)."""
    lr: float = 3e-4
    """Actor learning rate (Adam)."""
    critic_lr: float = 1e-3
    """Critic learning rate (Adam)."""
    epochs: int = 4
    """Passes over each rollout."""
    minibatches: int = 4
    """Minibatches per epoch."""
    entropy_coef: float = 0.05
    """Entropy bonus weight. Deviation from MAPPO's 0.01: self-play narrows the positions seen, and a less
    greedy policy copes better with unseen opponents (tic-tac-toe against random play, benchmarks/selfplay.py)."""
    pool_size: int = 100
    """Frozen past versions kept in the opponent pool; the oldest is dropped when it is full."""
    snapshot_every: int = 5
    """Iterations between snapshots of the learner into the pool (the initial policy is the first member)."""
    opponent_sampling: str = "uniform"
    """Who plays the other seat each episode: latest (always the current policy: naive self-play), uniform (a pool member chosen uniformly, fictitious-play style) prioritised (pool members weighted by their win rate against the learner, PFSP) or nash (PSRO: members weighted by a Nash equilibrium of the game between them; needs the exact payoffs of a built-in matrix game)."""
    latest_prob: float = 0.0
    """With uniform, prioritised or nash sampling, the probability that an episode's opponent is the current policy instead of a pool member."""
    random_prob: float = 0.0
    """Probability that an episode's opponent plays uniformly random legal moves (a fixed anchor in the pool, with any sampling). Self-play alone rarely visits the odd positions erratic play leads to; an anchor keeps the learner sound there (tic-tac-toe, benchmarks/selfplay.py)."""
    priority_power: float = 2.0
    """Prioritised sampling weighs a member by (its win rate against the learner) ** this (AlphaStar's f_hard)."""
    rating_k: float = rating.K
    """Elo K factor: rating points one surprising game moves (see algorithms/core/rating.py)."""

    def validate(self) -> None:
        super().validate()
        require_positive(self, "pool_size", "snapshot_every", "rating_k")
        require_choice(self, "opponent_sampling", SAMPLING)
        require_unit_interval(self, "latest_prob", "random_prob")
        if self.recurrent:
            raise MARLError("bad-config-value", "self_play runs feed-forward policies only (recurrent=false)",
                               "pool members would need their own recurrent state per env copy")


def meta_nash(payoff: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """PSRO's meta-solver (Lanctot et al. 2017): Nash weights over pool members, given each member's action
    probabilities probs [P, 2, A] in seat 0 (rows of `payoff`) and seat 1 (columns). Member i against
    member j scores U[i, j] = (x_i A y_j - x_j A y_i) / 2, each playing each seat half the time; U is
    antisymmetric, so the meta-game is symmetric zero-sum and its maximin mixture is an equilibrium. If the
    members' mixtures surround the game's equilibrium, the weighted pool plays it exactly."""
    rows, cols = payoff.shape
    seat0 = probs[:, 0, :rows] @ payoff @ probs[:, 1, :cols].T  # [P, P]: i in seat 0 against j in seat 1
    return solve_zero_sum((seat0 - seat0.T) / 2)[0]


# ---------------------------------------------------------------------------------------------------
# The pool: frozen actors with an Elo rating and a running score against the learner


@dataclass
class Member:
    actor: torch.nn.Module
    rating: float
    score: float = 0.5  # running mean of this member's score (1 win, 0.5 draw) against the learner


CURRENT = -1  # opponent id of the current (learning) policy
RANDOM = -2  # opponent id of uniformly random legal play
SCORE_RATE = 0.05  # weight of the latest game in Member.score


class OpponentSeats:
    """The VecEnv the learner sees: one learner seat per copy, the other played by the copy's opponent.

    `active` and `alive` are cleared at the opponent's seat, so its rows stay out of the PPO losses;
    rewards, terminations and final observations are passed through unchanged (per seat)."""

    def __init__(self, envs: VecEnv, owner: "SelfPlay"):
        self.envs, self.owner, self.info, self.num_envs = envs, owner, envs.info, envs.num_envs
        self.seat = np.arange(self.num_envs) % 2               # [K] the learner's seat
        self.opponent = np.full(self.num_envs, CURRENT)         # [K] opponent id per copy
        self.last: Step | None = None                          # the raw step both players act on
        self.results: list[tuple[int, int, float]] = []        # (opponent id, learner seat, learner return)

    def begin(self, first: Step) -> Step:
        self.seat = np.arange(self.num_envs) % 2
        self.opponent = np.array([self.owner.sample_opponent() for _ in range(self.num_envs)])
        self.last = first
        return self._masked(first)

    def reset(self, seed: int | None = None) -> Step:
        return self.begin(self.envs.reset(seed))

    def step(self, actions: np.ndarray) -> Step:
        rows = np.arange(self.num_envs)
        actions = np.array(actions, copy=True)
        other = 1 - self.seat
        actions[rows, other] = self.owner.opponent_actions(self.last, self.opponent)[rows, other]
        raw = self.envs.step(actions)
        for k, returns, _ in raw.finished:
            self.results.append((int(self.opponent[k]), int(self.seat[k]), float(returns[self.seat[k]])))
        for k in np.nonzero(raw.episode_end)[0]:  # a new episode: swap seats, draw a new opponent
            self.seat[k] = 1 - self.seat[k]
            self.opponent[k] = self.owner.sample_opponent()
        self.last = raw
        return self._masked(raw)

    def _masked(self, step: Step) -> Step:
        rows = np.arange(self.num_envs)
        active, alive = step.active.copy(), step.alive.copy()
        active[rows, 1 - self.seat] = False
        alive[rows, 1 - self.seat] = False
        return Step(step.obs, step.state, step.action_mask, active, alive, step.reward, step.terminated,
                    step.truncated, step.episode_end, step.final_obs, step.final_state, step.finished)

    def snapshot(self) -> bytes | None:
        inner = getattr(self.envs, "snapshot", lambda: None)()
        if inner is None:
            return None
        return pickle.dumps((inner, self.seat, self.opponent, self.last, self.results))

    def restore(self, blob: bytes) -> None:
        inner, self.seat, self.opponent, self.last, self.results = pickle.loads(blob)
        self.envs.restore(inner)

    def close(self) -> None:
        self.envs.close()


# ---------------------------------------------------------------------------------------------------
# The algorithm


class SelfPlay(Algorithm):
    config: SelfPlayConfig
    progress_metric = ("Elo", "selfplay/rating")

    def __init__(self, config: SelfPlayConfig, envs: VecEnv, device: torch.device):
        super().__init__(config, envs, device)
        info = envs.info
        require_two_players("self_play", info, "try pettingzoo.classic:tictactoe_v3, connect_four_v3, rps_v2 "
                                                "or matrix:rps")
        payoffs = source_payoffs(envs)
        if payoffs is not None and not np.allclose(payoffs[1], -payoffs[0]):
            raise MARLError("not-zero-sum", f"self_play needs a zero-sum game; in '{info.env_id}' the two "
                               "payoffs do not cancel", "for general-sum games try ippo or maddpg")
        self.seats = OpponentSeats(envs, self)
        self.learner = MAPPO(config, self.seats, device)
        # Opponent draws come from a generator of their own (seeded from torch's seeded stream, saved
        # in checkpoints), so a resumed run draws the same opponents as an uninterrupted one.
        self.rng = np.random.default_rng(int(torch.randint(2**31 - 1, (1,))))
        self.members: dict[int, Member] = {}
        self.pool: list[int] = []  # ids of pool members, oldest first
        self.next_id = 0
        self.rating = rating.INITIAL
        self.payoff = zero_sum_payoff(envs)  # [A0, A1] for built-in zero-sum matrix games, else None
        if config.opponent_sampling == "nash" and self.payoff is None:
            raise MARLError("bad-config-value", "opponent_sampling=nash weighs the pool by the members' exact "
                               f"payoffs against each other, known only for built-in matrix games, not '{info.env_id}'",
                               "use opponent_sampling=uniform or prioritised")
        self.weights = np.ones(0)  # the pool's mixture weights (uniform, or the meta-Nash with nash sampling)
        self.snapshot()

    # ------------------------------------------------------------------ the pool

    def snapshot(self) -> None:
        """Freeze the current actor into the pool, rated as the learner is now."""
        actor = copy.deepcopy(self.learner.actor).requires_grad_(False)
        self.members[self.next_id] = Member(actor, self.rating)
        self.pool.append(self.next_id)
        self.next_id += 1
        if len(self.pool) > self.config.pool_size:
            self.pool.pop(0)
        self._forget_unused()
        self._reweigh()

    def _reweigh(self) -> None:
        """The pool's mixture weights: uniform, or the meta-Nash once the game's observation is known."""
        uniform = np.full(len(self.pool), 1.0 / len(self.pool))
        nash = self.config.opponent_sampling == "nash" and self.seats.last is not None
        self.weights = self._meta_nash() if nash else uniform

    @torch.no_grad()
    def _meta_nash(self) -> np.ndarray:
        obs, mask = self.seats.last.obs[:1], self.seats.last.action_mask[:1]  # one-shot: the same everywhere
        probs = np.stack([to_numpy(self._dist(self.members[m].actor, obs, mask).dist.probs[0])
                          for m in self.pool])  # [P, 2, A]
        return meta_nash(self.payoff, probs)

    def _forget_unused(self) -> None:
        """Drop members that left the pool once no copy is still playing against them."""
        playing = set(self.seats.opponent.tolist())
        for mid in [m for m in self.members if m not in self.pool and m not in playing]:
            del self.members[mid]

    def sample_opponent(self) -> int:
        cfg = self.config
        if cfg.random_prob > 0 and self.rng.random() < cfg.random_prob:
            return RANDOM
        if cfg.opponent_sampling == "latest" or not self.pool or self.rng.random() < cfg.latest_prob:
            return CURRENT
        if cfg.opponent_sampling == "uniform":
            return self.pool[int(self.rng.integers(len(self.pool)))]
        if cfg.opponent_sampling == "nash":
            return self.pool[int(self.rng.choice(len(self.pool), p=self.weights))]
        weights = np.array([self.members[m].score for m in self.pool]) ** cfg.priority_power + 1e-6
        return self.pool[int(self.rng.choice(len(self.pool), p=weights / weights.sum()))]

    def _dist(self, actor: torch.nn.Module, obs: np.ndarray, mask: np.ndarray) -> MaskedCategorical | DiagGaussian:
        """`actor`'s action distribution (the learner's or a frozen member's), built as MAPPO builds its own."""
        obs_t, mask_t = to_tensor(obs, self.device), to_tensor(mask, self.device)
        features, _ = actor.torso(self.learner._actor_in(obs_t), None)
        if self.learner.continuous:
            return DiagGaussian(actor.head(features), actor.log_std, self.learner.dim_mask)
        return MaskedCategorical(actor.head(features), mask_t)

    def _sample(self, actor: torch.nn.Module, obs: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """Env actions [K, N] (discrete) or [K, N, act_dim] (continuous, squashed into the Box)."""
        return to_numpy(self.learner._env_actions(self._dist(actor, obs, mask).sample()))

    @torch.no_grad()
    def opponent_actions(self, step: Step, opponent: np.ndarray) -> np.ndarray:
        """[K, N] actions of each copy's opponent (only its own seat is used). One forward pass per
        distinct opponent, over the copies it plays in."""
        out = None
        for mid in np.unique(opponent):
            rows = np.nonzero(opponent == mid)[0]
            if mid == RANDOM:  # drawn from the saved generator, so a resumed run plays the same moves
                actions = random_actions(self.info, self.rng, step)[rows]
            else:
                actor = self.learner.actor if mid == CURRENT else self.members[int(mid)].actor
                actions = self._sample(actor, step.obs[rows], step.action_mask[rows])
            if out is None:
                out = np.zeros((len(opponent), *actions.shape[1:]), actions.dtype)
            out[rows] = actions
        return out

    def evaluation_opponents(self, last: int | None = None) -> dict[str, tuple[float, Callable[[Step], np.ndarray]]]:
        pool = self.pool[max(0, len(self.pool) - last):] if last is not None else list(self.pool)
        return {str(mid): (float(self.members[mid].rating), self.member_policy(mid)) for mid in pool}

    def member_policy(self, mid: int):
        """act-style callable (step -> [K, N] sampled actions) of pool member `mid`, for evaluation."""
        return torch.no_grad()(lambda step: self._sample(self.members[mid].actor, step.obs, step.action_mask))

    @torch.no_grad()
    def action_probs(self, obs: np.ndarray, mask: np.ndarray, which: str = "current") -> np.ndarray:
        """[K, N, A] action probabilities of the current policy, or of the pool's mixture ('pool': the
        members weighted as opponents are drawn, uniformly or by the meta-Nash; exact as a mixture for
        one-shot games)."""
        if which == "current":
            return to_numpy(self._dist(self.learner.actor, obs, mask).dist.probs)
        probs = torch.stack([self._dist(self.members[m].actor, obs, mask).dist.probs for m in self.pool])
        return np.einsum("p,pkna->kna", self.weights, to_numpy(probs))

    # ------------------------------------------------------------------ ratings and results

    def _record(self, results: list[tuple[int, int, float]]) -> dict[str, float]:
        """Update ratings and member scores from finished games; win/draw/loss rates against the pool."""
        scores = []
        for mid, _, learner_return in results:
            if mid in (CURRENT, RANDOM) or mid not in self.members:
                continue  # games against itself or random play do not move ratings
            s = rating.score_of(learner_return)
            member = self.members[mid]
            self.rating, member.rating = rating.elo_update(self.rating, member.rating, s, self.config.rating_k)
            member.score += SCORE_RATE * ((1.0 - s) - member.score)
            scores.append(s)
        scores_a = np.array(scores)
        rate = (lambda v: float(np.mean(scores_a == v))) if scores else (lambda v: float("nan"))
        return {"selfplay/win_rate": rate(1.0), "selfplay/draw_rate": rate(0.5), "selfplay/loss_rate": rate(0.0),
                "selfplay/games_vs_pool": float(len(scores))}

    def _exploitability(self) -> dict[str, float]:
        if self.payoff is None or self.seats.last is None:
            return {}
        # A one-shot matrix game observes the same constant in every copy: copy 0 stands for all.
        obs, mask = self.seats.last.obs[:1], self.seats.last.action_mask[:1]
        return {"selfplay/exploitability": matrix_exploitability(self.payoff, self.action_probs(obs, mask, "pool")[0]),
                "selfplay/exploitability_latest": matrix_exploitability(self.payoff, self.action_probs(obs, mask)[0])}

    # ------------------------------------------------------------------ Algorithm interface

    def learn(self, total_steps: int, callback: Callback | None = None) -> None:
        learner = self.learner
        while learner.env_steps < total_steps:
            batch, finished = learner.collect()
            losses = learner.update(batch)
            self._sync()
            results, self.seats.results = self.seats.results, []
            played = self._record(results)
            if learner.iterations % self.config.snapshot_every == 0:
                self.snapshot()
            metrics = {"env_steps": self.env_steps, "episodes": self.episodes, "iterations": self.iterations,
                       **episode_metrics(finished, self.info.agents), **played,
                       "selfplay/rating": self.rating, "selfplay/pool_size": float(len(self.pool)),
                       **self._exploitability(), **losses}
            if callback is not None and callback(self, metrics) is False:
                break

    def _sync(self) -> None:
        self.env_steps, self.iterations, self.episodes = (self.learner.env_steps, self.learner.iterations,
                                                          self.learner.episodes)

    def begin(self, first: Step) -> None:
        self.learner.begin(self.seats.begin(first))
        self._reweigh()

    def has_env_position(self) -> bool:
        return self.learner.has_env_position()

    def act(self, step: Step, memory: Any, deterministic: bool) -> tuple[np.ndarray, Any]:
        """The current learner policy in every seat (what `marl eval` plays)."""
        return self.learner.act(step, memory, deterministic)

    def state_dict(self) -> dict:
        members = {mid: {"actor": m.actor.state_dict(), "rating": m.rating, "score": m.score}
                   for mid, m in self.members.items()}
        return {"learner": self.learner.state_dict(), "members": members, "pool": list(self.pool),
                "next_id": self.next_id, "rating": self.rating, "rng": self.rng.bit_generator.state}

    def load_state_dict(self, state: dict) -> None:
        self.learner.load_state_dict(state["learner"])
        self.members = {}
        for mid, saved in state["members"].items():
            actor = copy.deepcopy(self.learner.actor).requires_grad_(False)
            actor.load_state_dict(saved["actor"])
            self.members[int(mid)] = Member(actor, saved["rating"], saved["score"])
        self.pool, self.next_id, self.rating = list(state["pool"]), state["next_id"], state["rating"]
        self.rng.bit_generator.state = state["rng"]
        if not self.learner.has_env_position():  # envs could not be restored: seats start afresh
            self.seats.last = None
        self._reweigh()
        self._sync()

