"""Nash Q-learning (Hu & Wellman 2003): tabular Q-learning over joint actions for two-player general-sum
stochastic games, backing up the value of a Nash equilibrium of the next state's stage game.

For every discrete state s the learner keeps Q^1(s, a_1, a_2) and Q^2(s, a_1, a_2), one per player, over
the joint action. After a transition (s, a_1, a_2, r_1, r_2, s') both are updated:

    Q^j(s, a_1, a_2) <- (1 - alpha) Q^j(s, a_1, a_2) + alpha (r_j + gamma * NashQ^j(s'))

where NashQ^j(s') = x' Q^j(s') y' is player j's value of the equilibrium (x', y') of the stage game
(Q^1(s'), Q^2(s')), chosen by `select_equilibrium`, the same for both players. Terminal next states are
worth 0. Selection: the paper's agents take the first equilibrium their solver returns (`selection=first`
here, in support-enumeration order). Deviation: our default is `welfare` (the pure equilibrium with the
largest summed value), because with `first` exact Nash value iteration on Grid Game 1 settles on an
equilibrium that shuts agent_0 out (start values 0 and 97.03), where `welfare` gives 97.03 to both (both
reach their goals in four steps, which fits the paper's statement that Grid Game 1 has a unique
equilibrium Q-function); on Grid Game 2 both rules give (49.0, 98.01) at the start.
In the paper each agent keeps both tables; both agents see the same states, actions and rewards and use
the same update and selection, so their copies are identical and are stored once here.

Stage games are solved exactly (algorithms.core.game_theory): a pure equilibrium when one exists,
else the maximin linear programme for zero-sum stage games (Q^1 = -Q^2, e.g. matching pennies) and
support enumeration for general-sum ones. Acting plays each agent's component of the current state's
equilibrium: sampled from the mixed strategy (stochastic), or its most likely action (deterministic, exact
for pure equilibria). During training each agent instead acts uniformly at random with probability epsilon.

States: the table is keyed on the global state (`env.state()`, e.g. the grid games' one-hot joint
position), one row per distinct state seen, up to `max_states`. Environments with more or less than two
agents, continuous actions or continuous (non-integer) states, turn-based play or action masks are refused.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from algorithms.errors import MARLError
from algorithms.base import (Algorithm, AlgorithmConfig, Callback, require_choice, require_non_negative,
                             require_positive, require_two_players, require_unit_interval)
from algorithms.core.game_theory import SELECTION_RULES, pure_equilibria, select_equilibrium, solve_zero_sum
from algorithms.core.metrics import episode_metrics
from algorithms.core.vec_env import Step, VecEnv

MAX_ACTIONS = 10  # support enumeration visits sum_k C(A, k)^2 supports: about 185k for 10 actions each


@dataclass
class NashQConfig(AlgorithmConfig):
    """Defaults follow Hu & Wellman 2003 (gamma 0.99, alpha = 1/n) unless a field says otherwise."""

    action_spaces = frozenset({"discrete"})
    reward_settings = frozenset({"cooperative", "competitive", "mixed"})
    policy_type = "off-policy"
    needs_state = True

    gamma: float = 0.99
    """Discount factor (the paper: 0.99)."""
    lr: float = 0.0
    """0: alpha = 1 / n(s, a_1, a_2), the visits of that state and joint action (the paper); > 0: this constant step size."""
    epsilon_start: float = 1.0
    """Probability that an agent acts uniformly at random at the start of training (the paper's offline learning: 1 throughout)."""
    epsilon_finish: float = 0.1
    """Exploration probability after annealing (deviation from the paper's pure random exploration, so training returns show the learned play)."""
    epsilon_anneal_steps: int = 10_000
    """Env steps (summed over copies) over which epsilon falls linearly from start to finish."""
    selection: str = "welfare"
    """Stage-game equilibrium selection: welfare (the pure one with the largest summed value; mixed only if
    none is pure) or first (the first support enumeration finds: the paper's rule). Deviation: see the module docstring."""
    rollout_steps: int = 25
    """Steps on every env copy per iteration; Q is updated after every step, this only sets how often metrics are reported."""
    max_states: int = 100_000
    """Refuse to grow the tables beyond this many distinct states (the algorithm is tabular)."""

    def validate(self) -> None:
        require_positive(self, "rollout_steps", "max_states")
        require_unit_interval(self, "gamma", "epsilon_start", "epsilon_finish", "lr")  # lr 0: alpha = 1/n
        require_non_negative(self, "epsilon_anneal_steps")
        require_choice(self, "selection", SELECTION_RULES)


def _refuse(env_id: str, what: str) -> MARLError:
    return MARLError("unsupported-env", f"'nash_q' cannot train on '{env_id}': {what}",
                        "Nash-Q is tabular and solves a two-player simultaneous stage game per state; for larger "
                        "problems try iql, ippo, mappo or self_play")


class NashQ(Algorithm):
    config: NashQConfig

    def __init__(self, config: NashQConfig, envs: VecEnv, device: torch.device):
        super().__init__(config, envs, device)
        info = self.info
        require_two_players("nash_q", info, "Nash-Q is tabular and solves a two-player stage game per state; "
                                            "for more agents try iql, ippo or mappo")
        if info.action_kind != "discrete":
            raise MARLError("unsupported-action-space", f"'nash_q' cannot train on continuous actions ('{info.env_id}')",
                               "Nash-Q needs a finite joint action set per state")
        if info.turn_based or info.has_action_mask:
            raise _refuse(info.env_id, "it is turn-based or masks actions; Nash-Q plays simultaneous stage games")
        if max(info.action_sizes) > MAX_ACTIONS:
            raise _refuse(info.env_id, f"an agent has {max(info.action_sizes)} actions (at most {MAX_ACTIONS}: "
                          "exact stage-game solving is exponential in the number of actions)")
        self.shape = tuple(info.action_sizes)                  # (A_1, A_2)
        self.q = np.zeros((64, 2, *self.shape))                # [states, player, A_1, A_2]
        self.visits = np.zeros((64, *self.shape), np.int64)    # [states, A_1, A_2]
        self.index: dict[bytes, int] = {}                      # env.state() bytes -> table row
        self.cache: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}  # row -> (x, y, values [2])
        self.rng = np.random.default_rng(int(torch.randint(0, 2**31 - 1, ())))  # seeded by seed_everything
        self.last: Step | None = None

    # ------------------------------------------------------------------ states and stage games

    def state_row(self, state: np.ndarray, add: bool) -> int | None:
        """The table row of a global state; new states get a row when `add` (else None)."""
        key = np.ascontiguousarray(state, dtype=np.float32).tobytes()
        row = self.index.get(key)
        if row is not None or not add:
            return row
        if not np.all(np.isfinite(state)) or not np.array_equal(state, np.round(state)):
            raise _refuse(self.info.env_id, "its state has non-integer (continuous) values; Nash-Q needs a small "
                          "discrete state such as a one-hot position")
        if len(self.index) >= self.config.max_states:
            raise MARLError("too-many-states", f"'nash_q' has seen {len(self.index)} distinct states of "
                               f"'{self.info.env_id}', its max_states", "Nash-Q is tabular: use a smaller discrete "
                               "state space, raise --set max_states=..., or a function-approximation algorithm")
        row = self.index[key] = len(self.index)
        if row == len(self.q):  # grow the tables by doubling
            self.q = np.concatenate([self.q, np.zeros_like(self.q)])
            self.visits = np.concatenate([self.visits, np.zeros_like(self.visits)])
        return row

    def equilibrium(self, row: int | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(x, y, values [2]): the selected equilibrium of the stage game at table row `row` (None: unseen)."""
        if row in self.cache:
            return self.cache[row]
        q1, q2 = (self.q[row, 0], self.q[row, 1]) if row is not None else (np.zeros(self.shape),) * 2
        if not pure_equilibria(q1, q2) and np.allclose(q1, -q2, rtol=0.0, atol=1e-9):
            x, y, _ = solve_zero_sum(q1)  # every equilibrium of a zero-sum game is a maximin pair
        else:
            x, y = select_equilibrium(q1, q2, self.config.selection)
        result = (x, y, np.array([x @ q1 @ y, x @ q2 @ y]))
        if row is not None:
            self.cache[row] = result
        return result

    def action_probs(self, obs: Step | np.ndarray, mask: np.ndarray | None = None,
                     state: np.ndarray | None = None) -> np.ndarray:
        """Each agent's equilibrium strategy at each copy's state: [K, 2, A] (zero-padded to the larger A).
        Takes a Step, or observations [K, 2, obs_dim] with the global `state` [K, state_dim] (the table's
        key); without `state` only a one-state table (a one-shot matrix game) can answer. `mask` is unused."""
        if isinstance(obs, Step):
            state = obs.state
        elif state is None:
            if len(self.index) != 1:
                raise MARLError("needs-state", "Nash-Q's policy depends on the global state; pass state=[K, state_dim]",
                                   "or call action_probs(step) with a batched Step")
            state = np.repeat(np.frombuffer(next(iter(self.index)), np.float32)[None], len(obs), axis=0)
        out = np.zeros((len(state), 2, self.info.action_dim))
        for k, state in enumerate(state):
            x, y, _ = self.equilibrium(self.state_row(state, add=False))
            out[k, 0, : len(x)], out[k, 1, : len(y)] = x, y
        return out

    # ------------------------------------------------------------------ acting

    def epsilon(self) -> float:
        cfg = self.config
        frac = min(self.env_steps / cfg.epsilon_anneal_steps, 1.0) if cfg.epsilon_anneal_steps else 1.0
        return cfg.epsilon_start + frac * (cfg.epsilon_finish - cfg.epsilon_start)

    def _sample(self, probs: np.ndarray) -> np.ndarray:
        """One action per row of probs [..., A] by inverse-CDF sampling with the learner's own RNG."""
        u = self.rng.random(probs.shape[:-1])[..., None]
        return np.minimum((probs.cumsum(-1) < u * probs.sum(-1, keepdims=True)).sum(-1), probs.shape[-1] - 1)

    def act(self, step: Step, memory: Any, deterministic: bool) -> tuple[np.ndarray, Any]:
        probs = self.action_probs(step)  # [K, 2, A]
        if deterministic:
            return probs.argmax(-1), memory
        return self._sample(probs), memory

    def _explore(self, step: Step) -> np.ndarray:
        """Training actions [K, 2]: the equilibrium strategy, or uniform over an agent's actions with prob. epsilon."""
        actions = self._sample(self.action_probs(step))
        sizes = np.asarray(self.shape)
        uniform = np.floor(self.rng.random(actions.shape) * sizes).astype(np.int64)
        return np.where(self.rng.random(actions.shape) < self.epsilon(), uniform, actions)

    # ------------------------------------------------------------------ collecting and updating

    def begin(self, first: Step) -> None:
        for state in first.state:  # refuse continuous states before training starts
            self.state_row(state, add=True)
        self.last = first

    def has_env_position(self) -> bool:
        return self.last is not None

    def collect(self) -> tuple[list[tuple[int, np.ndarray, int]], list[float]]:
        """`rollout_steps` exploring steps on every copy, each followed by the Nash-Q update."""
        if self.last is None:
            self.begin(self.envs.reset())
        cfg, finished, errors = self.config, [], []
        for _ in range(cfg.rollout_steps):
            step = self.last
            rows = [self.state_row(state, add=True) for state in step.state]
            actions = self._explore(step)
            nxt = self.envs.step(actions)
            for k, row in enumerate(rows):
                a1, a2 = actions[k]
                after = nxt.final_state[k] if nxt.episode_end[k] else nxt.state[k]
                bootstrap = ~nxt.terminated[k]  # [2]: terminal next states are worth 0
                next_values = self.equilibrium(self.state_row(after, add=True))[2] if bootstrap.any() else np.zeros(2)
                target = nxt.reward[k] + cfg.gamma * bootstrap * next_values
                self.visits[row, a1, a2] += 1
                alpha = cfg.lr or 1.0 / self.visits[row, a1, a2]
                td = target - self.q[row, :, a1, a2]
                self.q[row, :, a1, a2] += alpha * td
                self.cache.pop(row, None)
                errors.append(float(np.abs(td).mean()))
            self.last = nxt
            finished += nxt.finished
        self.env_steps += cfg.rollout_steps * self.envs.num_envs
        self.episodes += len(finished)
        return finished, errors

    def learn(self, total_steps: int, callback: Callback | None = None) -> None:
        while self.env_steps < total_steps:
            finished, errors = self.collect()
            self.iterations += 1
            start = self.equilibrium(0)[2]  # table row 0: the first state seen (the start state in grid games)
            metrics = {"env_steps": self.env_steps, "episodes": self.episodes, "iterations": self.iterations,
                       **episode_metrics(finished, self.info.agents), "charts/epsilon": self.epsilon(),
                       "charts/states": len(self.index), "losses/abs_td_error": float(np.mean(errors)),
                       **{f"charts/start_value/{a}": float(start[i]) for i, a in enumerate(self.info.agents)}}
            if callback is not None and callback(self, metrics) is False:
                break

    # ------------------------------------------------------------------ saving and loading

    def state_dict(self) -> dict:
        n = len(self.index)
        return {"q": self.q[:n].copy(), "visits": self.visits[:n].copy(), "states": list(self.index),
                "rng": self.rng.bit_generator.state, **self.save_position({"last": self.last})}

    def load_state_dict(self, state: dict) -> None:
        n = len(state["states"])
        size = max(64, 1 << max(n - 1, 0).bit_length())
        self.q, self.visits = np.zeros((size, 2, *self.shape)), np.zeros((size, *self.shape), np.int64)
        self.q[:n], self.visits[:n] = state["q"], state["visits"]
        self.index = {key: row for row, key in enumerate(state["states"])}
        self.cache = {}
        self.rng.bit_generator.state = state["rng"]
        collector = self.load_position(state)
        if collector is not None:
            self.last = collector["last"]
