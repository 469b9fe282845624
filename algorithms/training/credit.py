"""Who earned the team's reward? Counterfactual credit and Shapley values over deterministic evaluation
episodes, and, for value decomposition (VDN, QMIX, QPLEX), the mixer's own view.

- v(S): the team return (the sum of every agent's return per episode) when the agents in S act with the trained
  policy and every other agent's actions are replaced by a baseline: "noop" (action 0 / zeros, where the env
  family has one) or "random" (uniform legal actions). Each coalition plays the same episodes (the same reset
  seed, and the same baseline random draws), so differences are paired per episode.
- Counterfactual credit of agent i: v(all) - v(all but i), the team return lost when i alone is replaced; its
  95% CI is a bootstrap over episodes of the paired differences.
- Shapley value of i (up to MAX_SHAPLEY_AGENTS agents: 2^N coalitions): the average of v(S + i) - v(S) over
  coalition orders; the values sum to v(all) - v(none).
- The mixer's view: over the states the trained team visits, dQ_tot/dQ_i (the mixer's sensitivity to agent i's
  utility of its chosen action) and i's share of Q_tot to first order, (dQ_tot/dQ_i * Q_i) / sum_j of the same;
  `agreement` is the Spearman rank correlation between the mean share and the counterfactual credit (3+ agents).
"""
from __future__ import annotations

import itertools
import math
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from algorithms.core.distributions import open_masks
from algorithms.core.env_registry import make_vec_env
from algorithms.core.reference_policies import FixedPolicy, has_noop
from algorithms.core.statistics import bootstrap_ci
from algorithms.core.tensors import to_numpy, to_tensor
from algorithms.errors import MARLError
from algorithms.training.evaluate import play_episodes
from algorithms.training.run import load_for_eval

MAX_SHAPLEY_AGENTS = 8


class Coalition:
    """The trained policy for the agents in `members`; the baseline for everyone else (acting interface)."""

    def __init__(self, policy: Any, baseline: FixedPolicy, members: np.ndarray):
        self.policy, self.baseline, self.members = policy, baseline, members  # members: [N] bool

    def act(self, step, memory, deterministic):
        actions, memory = self.policy.act(step, memory, deterministic)
        replaced, _ = self.baseline.act(step, None, deterministic)  # drawn every step: the same draws per coalition
        actions = np.array(actions, copy=True)
        actions[:, ~self.members] = replaced[:, ~self.members]
        # A memory built from the chosen actions (MF-Q's mean action) must hold the executed ones instead.
        return actions, self.policy.memory_after(step, actions, memory)

    def initial_memory(self, num_envs):
        return self.policy.initial_memory(num_envs)

    def reset_memory(self, memory, episode_end):
        return self.policy.reset_memory(memory, episode_end)


def team_returns(algo, env: str, env_kwargs: dict, members: np.ndarray, baseline: str, episodes: int,
                 seed: int) -> np.ndarray:
    """[episodes] team return with `members` acting and the others on the baseline."""
    policy = Coalition(algo, FixedPolicy(algo.info, baseline, seed), members)
    return np.array([r.sum() for r, _ in play_episodes(policy, env, env_kwargs, episodes, True, seed)])


def shapley_weights(n: int) -> dict[int, float]:
    """|S|!(n-|S|-1)!/n!: the weight of v(S + i) - v(S) for a coalition S of size |S| not holding i."""
    return {k: math.factorial(k) * math.factorial(n - k - 1) / math.factorial(n) for k in range(n)}


def credit(run_dir: Path, episodes: int = 32, baseline: str = "auto", seed: int = 20_000,
           shapley: bool | None = None) -> dict[str, Any]:
    spec, algo = load_for_eval(run_dir)
    info, agents = algo.info, list(algo.info.agents)
    n = len(agents)
    if baseline == "auto":
        baseline = "noop" if has_noop(spec.env) else "random"
    if baseline not in ("noop", "random"):
        raise MARLError("bad-baseline", f"unknown baseline '{baseline}'", "choose auto, noop or random")
    if baseline == "noop" and info.action_kind == "discrete" and not has_noop(spec.env):
        raise MARLError("bad-baseline", f"{spec.env} has no known no-op action",
                        "use --baseline random (uniform legal actions)")
    if episodes < 2:
        raise MARLError("bad-episodes", f"--episodes must be at least 2 for a confidence interval, got {episodes}")
    shapley = n <= MAX_SHAPLEY_AGENTS if shapley is None else shapley
    if shapley and n > MAX_SHAPLEY_AGENTS:
        raise MARLError("too-many-agents", f"exact Shapley values over {n} agents need 2^{n} coalitions",
                        f"up to {MAX_SHAPLEY_AGENTS} agents; the counterfactual credit is computed for any number")
    coalitions = itertools.product([False, True], repeat=n) if shapley else \
        [tuple(True for _ in agents)] + [tuple(j != i for j in range(n)) for i in range(n)]
    v = {c: team_returns(algo, spec.env, spec.env_kwargs, np.array(c), baseline, episodes, seed)
         for c in coalitions}
    everyone = tuple(True for _ in agents)
    per_agent: dict[str, dict[str, Any]] = {}
    for i, agent in enumerate(agents):
        without = tuple(j != i for j in range(n))
        lost = v[everyone] - v[without]  # per episode, paired
        phi = None
        if shapley:
            weights = shapley_weights(n)
            per_episode = sum(weights[sum(c)] * (v[c[:i] + (True,) + c[i + 1:]] - v[c])
                              for c in v if not c[i])
            phi = float(np.mean(per_episode))
        per_agent[agent] = {"counterfactual": float(lost.mean()), "ci95": list(bootstrap_ci(lost)),
                            "shapley": phi,
                            "shapley_ci95": list(bootstrap_ci(per_episode)) if shapley else None}
    out = {"run_dir": str(run_dir), "algorithm": spec.algo, "env": spec.env, "baseline": baseline,
           "episodes": episodes, "team_return": float(v[everyone].mean()), "per_agent": per_agent}
    if shapley:
        out["team_return_all_replaced"] = float(v[tuple(False for _ in agents)].mean())
    if getattr(algo, "mixer", None) is not None:
        out["mixer"] = mixer_view(algo, spec.env, spec.env_kwargs, episodes, seed)
        out["mixer"]["agreement"] = _agreement([out["mixer"]["per_agent"][a]["share_mean"] for a in agents],
                                               [per_agent[a]["counterfactual"] for a in agents])
    return out


def mixer_view(algo, env: str, env_kwargs: dict, episodes: int, seed: int) -> dict[str, Any]:
    """dQ_tot/dQ_i and each agent's first-order share of Q_tot at every state the greedy team visits."""
    envs = make_vec_env(env, env_kwargs, num_envs=1)
    step, memory = envs.reset(seed=seed), algo.initial_memory(1)
    grads, shares, done = [], [], 0
    while done < episodes:
        obs, state = to_tensor(step.obs, algo.device), to_tensor(step.state, algo.device).float()
        with torch.no_grad():
            q, next_memory = algo.q_values(obs, memory)                             # [1, N, A]
        valid = open_masks(to_tensor(algo.joint.mask(step.action_mask), algo.device))  # joint for factorised actions
        q = q.masked_fill(~valid, -torch.inf)
        action = q.argmax(-1)                                                      # [1, N]
        live = to_tensor(step.alive, algo.device).float()
        taken = (q.gather(-1, action.unsqueeze(-1)).squeeze(-1) * live).requires_grad_(True)
        q_tot = algo.mixer(taken, state, q.max(-1).values * live, F.one_hot(action, q.shape[-1]) * live[..., None])
        (grad,) = torch.autograd.grad(q_tot.sum(), taken)
        contribution = (grad * taken).detach()[0]                                   # [N]
        total = float(contribution.sum())
        grads.append(to_numpy(grad[0]))
        shares.append(to_numpy(contribution) / total if abs(total) > 1e-8 else np.zeros(len(contribution)))
        step = envs.step(algo.joint.components(to_numpy(action)))
        memory = algo.reset_memory(next_memory, step.episode_end)
        done += int(step.episode_end.sum())
    envs.close()
    g, s = np.stack(grads), np.stack(shares)
    return {"states": len(g), "per_agent": {a: {"dqtot_dqi_mean": float(g[:, i].mean()),
                                                "dqtot_dqi_std": float(g[:, i].std()),
                                                "share_mean": float(s[:, i].mean()), "share_std": float(s[:, i].std())}
                                            for i, a in enumerate(algo.info.agents)}}


def _agreement(shares: list[float], credits: list[float]) -> float | None:
    """Spearman rank correlation of the mixer's mean shares with the counterfactual credits (None when it is
    undefined: fewer than 3 agents, or either side constant)."""
    if len(shares) < 3 or np.ptp(shares) == 0 or np.ptp(credits) == 0:
        return None
    from scipy.stats import spearmanr

    return float(spearmanr(shares, credits).statistic)
