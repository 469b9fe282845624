"""opponent_modeling vs single_agent (PPO without the model) at equal env-step budgets, same PPO settings.

    .venv/bin/python -m benchmarks.opponent_modeling            # every setting, seeds 0-4 (about 1 min)
    .venv/bin/python -m benchmarks.opponent_modeling --seeds 0-7 --only cycle

Prints one row per (setting, learner, seed): the opponent model's accuracy on the last rollout (chance 1/3 in
rps; ~0.22 among the legal tic-tac-toe squares), the training win rate (stochastic policy, last rollout),
and the greedy evaluation: win rate and mean return over 256 matches (64 for tic-tac-toe).

Settings (same PPO settings for both learners in each):
- `context`: matrix:context_rps (32 public contexts, 10 rounds) against
  algorithms.envs.scripted:context_favourite (a fixed favourite move per context, 80% of the time), with
  rollout_steps=10 (more, smaller PPO updates for both learners at these small budgets). The best reply
  earns +8.0 a match; a perfect model is right 0.8 + 0.2 / 3 = 0.87 of the time. The model learns from
  every opponent move what the policy learns only from its own rewards, context by context.
- `rock60`: pettingzoo.classic:rps_v2 against algorithms.envs.scripted:rps_rock60 (one biased move, no context).
- `ttt`: tictactoe_v3 first seat against algorithms.envs.scripted:first_legal.
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from algorithms import make
from algorithms.core.env_registry import make_vec_env
from algorithms.single_agent import play_learner

SCRIPTED = "algorithms.envs.scripted"
SETTINGS = {  # name: (env, kwargs, opponents, budgets, PPO overrides for both learners)
    "context": ("matrix:context_rps", {}, f"{SCRIPTED}:context_favourite", (1000, 2000), {"rollout_steps": 10}),
    "rock60": ("pettingzoo.classic:rps_v2", {}, f"{SCRIPTED}:rps_rock60", (1200,), {}),
    "ttt": ("pettingzoo.classic:tictactoe_v3", {}, f"{SCRIPTED}:first_legal", (1500,), {}),
}


def train(algo: str, env: str, kwargs: dict, opponents: str, steps: int, seed: int, overrides: dict | None = None):
    torch.manual_seed(seed)
    envs = make_vec_env(env, kwargs, num_envs=8)
    learner = make(algo, envs, opponents=opponents, **(overrides or {}))
    learner.begin(envs.reset(seed=seed))
    rows = []
    learner.learn(steps, lambda a, m: rows.append(m))
    return learner, rows[-1]


def evaluate(learner, env: str, kwargs: dict, episodes: int, seed: int = 123) -> tuple[float, float]:
    """Greedy play: (win rate, mean return) of the learner over `episodes` matches."""
    result = play_learner(learner, env, kwargs, episodes, seed)
    return result["charts/learner_win_rate"], result["charts/learner_return"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0-4", help="e.g. 0-4 or 0,3,5")
    parser.add_argument("--only", choices=sorted(SETTINGS), action="append")
    args = parser.parse_args()
    lo, _, hi = args.seeds.partition("-")
    seeds = list(range(int(lo), int(hi) + 1)) if hi else [int(s) for s in args.seeds.split(",")]
    torch.set_num_threads(1)
    print(f"{'setting':10s} {'steps':>5s} {'learner':17s} {'seed':>4s} {'acc':>5s} {'train':>5s} {'win':>5s} {'return':>6s}")
    for name in args.only or list(SETTINGS):
        env, kwargs, opponents, budgets, overrides = SETTINGS[name]
        episodes = 64 if name == "ttt" else 256
        for steps in budgets:
            for algo in ("single_agent", "opponent_modeling"):
                wins, rets = [], []
                for seed in seeds:
                    learner, last = train(algo, env, kwargs, opponents, steps, seed, overrides)
                    win, ret = evaluate(learner, env, kwargs, episodes)
                    wins.append(win), rets.append(ret)
                    acc = last.get("opponent_model/accuracy", float("nan"))
                    print(f"{name:10s} {steps:5d} {algo:17s} {seed:4d} {acc:5.2f} "
                          f"{last['charts/learner_win_rate']:5.2f} {win:5.2f} {ret:+6.2f}", flush=True)
                print(f"{name:10s} {steps:5d} {algo:17s} mean {'':5s} {'':5s} {np.mean(wins):5.2f} {np.mean(rets):+6.2f}")


if __name__ == "__main__":
    t0 = time.time()
    main()
    print(f"({time.time() - t0:.0f} s)")
