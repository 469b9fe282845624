"""Competitive evaluation of a trained policy in a two-player zero-sum game.

- Win / draw / loss against an opponent (uniformly random legal actions, or a self-play pool member),
  with the trained policy in each seat in turn: copy k starts in seat k % 2 and swaps after every
  episode, so it plays first and second equally often. The outcome is the sign of its episode return.
- Exact exploitability for matrix games: the payoff matrix is read from the env, the policy's action
  probabilities at the game's single constant observation from the algorithm, and
  `game_theory.exploitability_zero_sum` gives what a best response gains against it (NashConv / 2,
  in payoff units).
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np
import torch

from algorithms.base import AlgorithmConfig
from algorithms.core.env_registry import make_vec_env
from algorithms.core.payoffs import matrix_exploitability, zero_sum_payoff
from algorithms.core.reference_policies import random_actions
from algorithms.core.tensors import to_numpy, to_tensor
from algorithms.core.vec_env import EnvInfo, Step
from algorithms.errors import MARLError

Opponent = Callable[[Step], np.ndarray]  # batched step -> [K, N] actions (only the opponent's seat is used)
OUTCOMES = ("win", "draw", "loss")


@torch.no_grad()
def policy_probs(algo: Any, obs: np.ndarray, mask: np.ndarray, samples: int = 4096, seed: int = 0) -> np.ndarray:
    """[K, N, A] action probabilities of `algo` at a batched observation: exact for algorithms that expose
    them (`action_probs`, or a `policy` returning a distribution), else the frequencies of `samples`
    stochastic actions (an estimate, e.g. for value-based learners)."""
    if hasattr(algo, "action_probs"):
        return algo.action_probs(obs, mask)
    if hasattr(algo, "policy"):
        dist = algo.policy(to_tensor(obs, algo.device), to_tensor(mask, algo.device))[0]
        if hasattr(dist, "dist") and hasattr(dist.dist, "probs"):
            return to_numpy(dist.dist.probs)
    torch.manual_seed(seed)
    k, n, a = mask.shape
    tiled = lambda x: np.repeat(x, samples, axis=0)  # noqa: E731
    step = Step(tiled(obs), np.zeros((k * samples, 1), np.float32), tiled(mask), np.ones((k * samples, n), bool),
                np.ones((k * samples, n), bool), *([None] * 6), [])
    actions, _ = algo.act(step, algo.initial_memory(k * samples), False)
    counts = np.stack([np.eye(a)[actions[:, i].astype(int)] for i in range(n)], axis=1)  # [K*S, N, A]
    return counts.reshape(k, samples, n, a).mean(axis=1)


def exploitability_report(algo: Any, env_id: str, env_kwargs: dict | None) -> dict[str, float] | None:
    """Exploitability of the learned policy (and of a self-play pool average) if `env_id` is a zero-sum
    matrix game, else None."""
    payoff = zero_sum_payoff(env_id, env_kwargs)
    if payoff is None:
        return None
    envs = make_vec_env(env_id, env_kwargs, num_envs=1)
    first = envs.reset(seed=0)
    envs.close()
    report = {"policy": matrix_exploitability(payoff, policy_probs(algo, first.obs, first.action_mask)[0])}
    if not (hasattr(algo, "action_probs") or hasattr(algo, "policy")):
        report["policy_is_sampled_estimate"] = 1.0  # frequencies of stochastic actions, not exact probabilities
    if getattr(algo, "pool", None):
        report["pool_average"] = matrix_exploitability(payoff, algo.action_probs(first.obs, first.action_mask,
                                                                                 "pool")[0])
    return report


# ---------------------------------------------------------------------------------------------------
# Win / draw / loss from both seats


def random_opponent(info: EnvInfo, seed: int) -> Opponent:
    """Uniformly random legal play, with a generator of its own."""
    rng = np.random.default_rng(seed)
    return lambda step: random_actions(info, rng, step)


def play(algo: Any, env_id: str, env_kwargs: dict | None, opponent: Opponent, episodes: int,
         deterministic: bool, seed: int) -> dict[str, Any]:
    """Win/draw/loss rates of `algo` against `opponent` over `episodes` games, overall and per seat
    (keyed by agent name; in turn-based games the first agent moves first)."""
    k = min(8, max(2, episodes // 2))
    # Games per copy, `episodes` in all; copy c plays seats c%2, 1-c%2, ... in turn, so the seats stay
    # balanced to within a game or two.
    quota = episodes // k + (np.arange(k) < episodes % k)
    envs = make_vec_env(env_id, env_kwargs, num_envs=k)
    agents = envs.info.agents
    rows = np.arange(k)
    seat, played = rows % 2, np.zeros(k, int)
    counts = np.zeros((2, 3), int)  # [seat, (win, draw, loss)]
    torch.manual_seed(seed)  # stochastic policies and pool members sample from torch's stream
    step = envs.reset(seed=seed)
    memory = algo.initial_memory(k)
    while (played < quota).any():
        actions, memory = algo.act(step, memory, deterministic)
        actions = np.array(actions, copy=True)
        actions[rows, 1 - seat] = np.asarray(opponent(step))[rows, 1 - seat]
        step = envs.step(actions)
        memory = algo.reset_memory(memory, step.episode_end)
        for c, returns, _ in step.finished:
            if played[c] < quota[c]:
                r = returns[seat[c]]
                counts[seat[c], 0 if r > 0 else 1 if r == 0 else 2] += 1
                played[c] += 1
            seat[c] = 1 - seat[c]
    envs.close()

    def rates(c: np.ndarray) -> dict[str, Any]:
        total = int(c.sum())
        return {"episodes": total, **{o: float(c[i] / max(total, 1)) for i, o in enumerate(OUTCOMES)}}

    return {**rates(counts.sum(0)), "by_seat": {agents[s]: rates(counts[s]) for s in (0, 1)}}


@torch.no_grad()
def exact_vs_random(algo: Any, env_id: str, env_kwargs: dict | None = None, max_positions: int = 100_000
                    ) -> dict[str, dict[str, float]]:
    """Exact win / draw / loss probabilities of `algo`'s greedy policy against uniformly random legal moves,
    per seat (keyed by agent name), by walking the whole game tree: the policy's move at its own turns, every
    legal reply weighted equally at the opponent's. No sampling error, so two checkpoints compare exactly.
    For small deterministic turn-based games whose copies can be snapshotted (tic-tac-toe: a few
    thousand positions, seconds); refused once a walk passes `max_positions`."""
    sampled = "sampled games measure it instead (marl eval without --exact)"
    envs = make_vec_env(env_id, env_kwargs, num_envs=1)
    if not envs.info.turn_based or getattr(envs, "snapshot", lambda: None)() is None:
        envs.close()
        raise MARLError("not-enumerable", f"'{env_id}' is not a turn-based game whose positions can be saved",
                           sampled)
    visited = 0

    def outcome(step: Step, seat: int) -> np.ndarray:  # [win, draw, loss] probabilities from this position
        nonlocal visited
        visited += 1
        if visited > max_positions:
            raise MARLError("not-enumerable", f"'{env_id}' has more than {max_positions:,} positions against "
                               "random play: too many to walk exactly", sampled)
        mover = int(np.argmax(step.active[0]))
        if mover == seat:
            actions, _ = algo.act(step, algo.initial_memory(1), True)
            moves = [np.asarray(actions)[0, seat]]
        else:
            moves = np.nonzero(step.action_mask[0, mover])[0]
        saved, total = envs.snapshot(), np.zeros(3)
        for move in moves:
            envs.restore(saved)
            actions = np.zeros((1, envs.info.n_agents), np.int64)
            actions[0, mover] = move
            child = envs.step(actions)
            if child.finished:
                r = child.finished[0][1][seat]
                total[0 if r > 0 else 1 if r == 0 else 2] += 1.0
            else:
                total += outcome(child, seat)
        return total / len(moves)

    report = {}
    try:
        for seat, agent in enumerate(envs.info.agents[:2]):
            win, draw, loss = outcome(envs.reset(seed=0), seat)
            report[agent] = {"win": float(win), "draw": float(draw), "loss": float(loss)}
    finally:
        envs.close()
    return report


def is_competitive_run(config_cls: type[AlgorithmConfig], env_id: str, env_kwargs: dict | None) -> bool:
    """Whether a run's evaluation should report win/draw/loss: algorithms made only for competitive games
    (self-play) and any zero-sum matrix game."""
    return config_cls.reward_settings == {"competitive"} or zero_sum_payoff(env_id, env_kwargs) is not None


def competitive_report(algo: Any, env_id: str, env_kwargs: dict | None, episodes: int, deterministic: bool,
                       seed: int, pool_members: int | None = None) -> dict[str, Any]:
    """Win/draw/loss against random play and against every pool member (self-play runs; only the
    `pool_members` most recent if given), and the exact exploitability for zero-sum matrix games."""
    report: dict[str, Any] = {"vs_random": play(algo, env_id, env_kwargs, random_opponent(algo.info, seed), episodes,
                                                deterministic, seed)}
    report["vs_pool"] = {name: {"rating": rating, **play(algo, env_id, env_kwargs, policy, episodes, deterministic,
                                                         seed)}
                         for name, (rating, policy) in algo.evaluation_opponents(pool_members).items()}
    if algo.rating is not None:
        report["rating"] = float(algo.rating)
    exploit = exploitability_report(algo, env_id, env_kwargs)
    if exploit is not None:
        report["exploitability"] = exploit
    return report
