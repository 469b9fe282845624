"""Detect advisor facts from a PettingZoo environment, with the evidence for each.

Spaces, state() and the API kind are read directly. The reward structure is estimated from a short
random rollout: per-step rewards form a [steps, agents] matrix and the agents are grouped into teams
whose rewards move together (identical, or correlated above TEAM_CORRELATION). One team is cooperative
even when the rewards differ step by step (simple_spread's per-agent collision terms); several teams
are mixed (simple_tag: three adversaries sharing a reward against one runner); single agents whose
rewards sum to a constant every step play a zero-sum, competitive game (rock-paper-scissors).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from gymnasium import spaces

from advisor.facts import FactValue
from algorithms.core.action_spaces import FACTORISED, flat_mask
from algorithms.core.env_registry import is_parallel, make_env
from algorithms.core.observation_rows import flat_summary

TEAM_CORRELATION = 0.7       # agents whose per-step rewards correlate at least this much share a team
COMPETITIVE_CORRELATION = -0.5  # single agents this anti-correlated (without a constant sum) compete
TABULAR_MAX_STATES = 10_000  # observation spaces this small fit in a table


@dataclass(frozen=True)
class RolloutBudget:
    """Random play stops after max_steps or max_seconds, and not before min_steps (unless episodes run out)."""

    min_steps: int = 300
    max_steps: int = 3000
    max_seconds: float = 1.5
    max_episodes: int = 200


@dataclass
class Inspection:
    env_id: str
    facts: dict[str, FactValue] = field(default_factory=dict)
    evidence: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"env": self.env_id, "facts": dict(self.facts), "evidence": self.evidence}


def inspect_env(env_id: str, env_kwargs: dict[str, Any] | None = None, seed: int = 0,
                budget: RolloutBudget = RolloutBudget()) -> Inspection:
    """Open `env_id` (AdvisorError for unknown ids) and detect what can be detected about it."""
    env = make_env(env_id, env_kwargs)
    try:
        return _inspect(env, env_id, seed, budget)
    finally:
        env.close()


def _inspect(env: Any, env_id: str, seed: int, budget: RolloutBudget) -> Inspection:
    parallel = is_parallel(env)
    env.reset(seed=seed)  # some envs only answer state() and spaces after a reset
    agents = list(env.possible_agents)
    result = Inspection(env_id)
    facts, evidence = result.facts, result.evidence
    evidence["api"] = "parallel" if parallel else "aec"
    evidence["agents"] = agents
    facts["n_agents"] = len(agents)
    if len(agents) == 1:
        facts["multiple_learners"] = False

    kinds = {a: action_kind(env.action_space(a)) for a in agents}
    evidence["spaces"] = {a: {"observation": str(env.observation_space(a)), "action": str(env.action_space(a)),
                              "action_kind": kinds[a], "observation_flat": flat_summary(env.observation_space(a))}
                          for a in agents}
    if len(set(kinds.values())) == 1 and None not in kinds.values():
        facts["action_space"] = kinds[agents[0]]
        if kinds[agents[0]] == "discrete":  # MultiDiscrete / MultiBinary count as discrete, and as factorised
            facts["factorised_actions"] = any(isinstance(env.action_space(a), FACTORISED) for a in agents)

    evidence["state"] = _state(env)
    facts["global_state"] = evidence["state"]["available"]

    turn_based, reason = _turn_based(env, parallel)
    facts["turn_based"] = turn_based
    evidence["turn_based"] = {"value": turn_based, "reason": reason}

    masks_in_obs = any(_has_mask_key(env.observation_space(a)) for a in agents)
    rewards, masks_in_info = _rollout(env, agents, parallel, seed, budget)

    tabular, reason = _tabular(env, agents, rewards.pop("one_hot"), rewards["steps"])
    facts["tabular"] = tabular
    evidence["tabular"] = {"value": tabular, "reason": reason}
    where = ["observation['action_mask']"] * masks_in_obs + ["info['action_mask']"] * masks_in_info
    evidence["action_masks"] = {"present": bool(where), "where": where}

    analysis = analyze_rewards(rewards["matrix"], agents)
    evidence["rewards"] = {k: v for k, v in rewards.items() if k != "matrix"} | analysis
    if analysis["structure"] is not None:
        facts["reward_structure"] = analysis["structure"]
    if analysis["coupled"]:
        facts["interdependent"] = True
    return result


def action_kind(space: Any) -> str | None:
    if isinstance(space, (spaces.Discrete, spaces.MultiDiscrete, spaces.MultiBinary)):
        return "discrete"
    if isinstance(space, spaces.Box):
        return "continuous"
    return None


def _state(env: Any) -> dict[str, Any]:
    try:
        state = np.asarray(env.state())
    except Exception as err:  # classic games raise TypeError or NotImplementedError here
        return {"available": False, "error": f"{type(err).__name__}: {err}"}
    return {"available": True, "shape": list(state.shape)}


def _turn_based(env: Any, parallel: bool) -> tuple[bool, str]:
    if parallel:
        return False, "parallel API: every agent acts at every step"
    if env.metadata.get("is_parallelizable", False):
        return False, "AEC API over a simultaneous game (metadata is_parallelizable: true)"
    return True, "AEC API: agents act one at a time (agent_iter), and the game is not parallelizable"


def _tabular(env: Any, agents: list[str], one_hot: dict[str, bool], steps: int) -> tuple[bool, str]:
    """Small discrete observations: Discrete / MultiDiscrete spaces, or a Box whose every observation in
    the random rollout was one-hot (a discrete state in disguise, as in the grid games)."""
    sizes, encoded = [], False
    for agent in agents:
        space = env.observation_space(agent)
        if isinstance(space, spaces.Discrete):
            sizes.append(int(space.n))
        elif isinstance(space, spaces.MultiDiscrete):
            sizes.append(int(np.prod(space.nvec)))
        elif isinstance(space, spaces.Box) and len(space.shape) == 1 and one_hot.get(agent, False):
            sizes.append(int(space.shape[0]))
            encoded = True
        else:
            return False, f"{agent} observes {type(space).__name__} (not a small discrete set)"
    if max(sizes) <= TABULAR_MAX_STATES:
        if encoded:
            return True, (f"one-hot observations (every one seen in {steps} steps of random play) with at most "
                          f"{max(sizes)} state{'s' if max(sizes) > 1 else ''} per agent")
        return True, f"discrete observations with at most {max(sizes)} values per agent"
    return False, f"up to {max(sizes)} observation values per agent (more than {TABULAR_MAX_STATES})"


def _has_mask_key(space: Any) -> bool:
    return isinstance(space, spaces.Dict) and "action_mask" in space.spaces


def _mask(obs: Any, info: Any) -> tuple[np.ndarray | None, bool]:
    """(the action mask if the env gives one, whether it came from info)."""
    if isinstance(obs, dict) and "action_mask" in obs:
        return flat_mask(obs["action_mask"]), False
    if isinstance(info, dict) and "action_mask" in info:
        return flat_mask(info["action_mask"]), True
    return None, False


def _sample(space: Any, mask: np.ndarray | None, rng: np.random.Generator) -> Any:
    """A uniformly random legal action (cheaper than space.sample() for the common spaces)."""
    if isinstance(space, spaces.Discrete):
        legal = np.flatnonzero(mask) if mask is not None else None
        if legal is not None and len(legal):
            return int(space.start + rng.choice(legal))
        return int(space.start + rng.integers(space.n))
    if isinstance(space, spaces.Box) and np.all(np.isfinite(space.low)) and np.all(np.isfinite(space.high)):
        return rng.uniform(space.low, space.high).astype(space.dtype)
    if isinstance(space, FACTORISED) and mask is not None:  # a legal value of every component
        sizes = np.asarray(space.nvec).reshape(-1) if isinstance(space, spaces.MultiDiscrete) else [2] * space.n
        parts = np.split(mask.astype(bool), np.cumsum(sizes)[:-1])
        return np.asarray([rng.choice(np.flatnonzero(p)) if p.any() else 0 for p in parts], space.dtype)
    return space.sample()


def _rollout(env: Any, agents: list[str], parallel: bool, seed: int,
             budget: RolloutBudget) -> tuple[dict[str, Any], bool]:
    """Random play until the budget is spent and every agent's reward has varied (or time runs out)."""
    rng = np.random.default_rng(seed)
    rows: list[list[float]] = []
    # Has every observation of this agent been one-hot? Only a Box can be (a Tuple's observation is no array).
    one_hot = {agent: isinstance(env.observation_space(agent), spaces.Box) for agent in agents}

    def seen(agent: str, observation: Any) -> None:
        if not one_hot[agent]:
            return
        x = np.asarray(observation) if not isinstance(observation, dict) else np.zeros(0)
        one_hot[agent] = x.ndim == 1 and bool(np.all((x == 0) | (x == 1))) and x.sum() == 1
    start = time.perf_counter()
    episodes, masks_in_info = 0, False

    def done() -> bool:
        if len(rows) >= budget.max_steps or time.perf_counter() - start > budget.max_seconds:
            return True
        if len(rows) < budget.min_steps:
            return False
        return bool(np.all(np.ptp(np.asarray(rows), axis=0) > 0))  # every agent saw a reward change

    while not done() and episodes < budget.max_episodes:
        episodes += 1
        if parallel:
            obs, infos = env.reset(seed=seed + episodes)
            while env.agents and not done():
                actions = {}
                for agent in env.agents:
                    seen(agent, obs.get(agent))
                    mask, from_info = _mask(obs.get(agent), infos.get(agent))
                    masks_in_info |= from_info
                    actions[agent] = _sample(env.action_space(agent), mask, rng)
                obs, rewards, _, _, infos = env.step(actions)
                rows.append([float(rewards.get(a, 0.0)) for a in agents])
        else:
            env.reset(seed=seed + episodes)
            for agent in env.agent_iter():
                obs, _, terminated, truncated, info = env.last()
                if terminated or truncated:
                    env.step(None)  # finished agents must be stepped with None; no new rewards
                    continue
                seen(agent, obs)
                mask, from_info = _mask(obs, info)
                masks_in_info |= from_info
                env.step(_sample(env.action_space(agent), mask, rng))
                rows.append([float(env.rewards.get(a, 0.0)) for a in agents])
                if done():
                    break
    matrix = np.asarray(rows, dtype=np.float64).reshape(-1, len(agents))
    return {"matrix": matrix, "steps": len(rows), "episodes": episodes, "one_hot": one_hot,
            "seconds": round(time.perf_counter() - start, 3)}, masks_in_info


def analyze_rewards(matrix: np.ndarray, agents: list[str]) -> dict[str, Any]:
    """Reward structure from a [steps, agents] reward matrix: teams, zero-sum test, verdict and why. Steps with a
    NaN or infinite reward are left out and counted (`marl train` stops at the first)."""
    n = len(agents)
    finite = np.isfinite(matrix).all(axis=1)
    non_finite, matrix = int((~finite).sum()), matrix[finite]
    out: dict[str, Any] = {"structure": None, "coupled": False, "teams": [[a] for a in agents],
                           "non_finite_steps": non_finite,
                           "zero_sum": False, "constant_sum": False, "correlation": None,
                           "mean_per_step": {a: round(float(m), 4) for a, m in zip(agents, matrix.mean(0))}
                           if len(matrix) else {}}
    if n < 2:
        out["reason"] = "one agent: there is no reward structure between agents"
        return out
    if len(matrix) == 0 or np.all(np.ptp(matrix, axis=0) == 0):
        out["reason"] = "no agent's reward changed during random play; answer reward_structure yourself"
        return out

    scale = max(1.0, float(np.abs(matrix).max()))
    sums = matrix.sum(axis=1)
    out["zero_sum"] = bool(np.abs(sums).max() <= 1e-6 * scale)
    out["constant_sum"] = bool(np.ptp(sums) <= 1e-6 * scale)
    corr = _correlation(matrix)
    out["correlation"] = {a: {b: _round(corr[i, j]) for j, b in enumerate(agents)} for i, a in enumerate(agents)}

    teams = _teams(matrix, corr)
    out["teams"] = [[agents[i] for i in team] for team in teams]
    shared = any(len(team) > 1 for team in teams)
    off_diagonal = corr[~np.eye(n, dtype=bool)]
    strongest = float(np.nanmax(np.abs(off_diagonal))) if np.any(np.isfinite(off_diagonal)) else 0.0
    out["coupled"] = shared or out["constant_sum"] or strongest >= 0.5

    if len(teams) == 1:
        low = np.nanmin(off_diagonal) if np.any(np.isfinite(off_diagonal)) else 1.0
        out["structure"] = "cooperative"
        out["reason"] = (f"all agents' rewards move together (lowest pairwise correlation {low:.2f}), "
                         "so they share one team objective")
    elif out["constant_sum"]:
        out["structure"] = "mixed" if shared else "competitive"
        kind = "zero" if out["zero_sum"] else "a constant"
        out["reason"] = (f"rewards sum to {kind} at every step: "
                         + ("teams compete in a zero-sum game" if shared else "one agent's gain is another's loss"))
    elif shared:
        out["structure"] = "mixed"
        out["reason"] = (f"{len(teams)} teams whose members' rewards move together: "
                         + "; ".join(", ".join(agents[i] for i in team) for team in teams))
    elif np.nanmean(off_diagonal) <= COMPETITIVE_CORRELATION:
        out["structure"] = "competitive"
        out["reason"] = f"every agent's reward moves against the others' (mean correlation {np.nanmean(off_diagonal):.2f})"
    else:
        out["reason"] = ("individual rewards that neither move together nor sum to a constant; "
                         "answer reward_structure yourself")
    return out


def _correlation(matrix: np.ndarray) -> np.ndarray:
    """Pearson correlation between agents' per-step rewards; identical columns count as 1, constant ones NaN."""
    n = matrix.shape[1]
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = np.corrcoef(matrix.T) if n > 1 else np.ones((1, 1))
    for i in range(n):
        for j in range(n):
            if np.allclose(matrix[:, i], matrix[:, j]):
                corr[i, j] = 1.0
    return corr


def _teams(matrix: np.ndarray, corr: np.ndarray) -> list[list[int]]:
    """Connected groups of agents whose rewards are identical or correlate >= TEAM_CORRELATION."""
    n = matrix.shape[1]
    parent = list(range(n))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i in range(n):
        for j in range(i + 1, n):
            if np.isfinite(corr[i, j]) and corr[i, j] >= TEAM_CORRELATION:
                parent[find(j)] = find(i)
    groups: dict[int, list[int]] = {}
    for i in range(n):
        groups.setdefault(find(i), []).append(i)
    return list(groups.values())


def _round(value: float) -> float | None:
    return None if not np.isfinite(value) else round(float(value), 3)
