"""opponent_modeling vs single_agent (PPO without the model) at equal env-step budgets, same PPO settings.

    .venv/bin/python -m benchmarks.opponent_modeling            # every setting, seeds 0-4 (about 1 min)
    .venv/bin/python -m benchmarks.opponent_modeling --seeds 0-7 --only cycle

Prints one row per (setting, learner, seed): the opponent model's accuracy on the last rollout (chance 1/3 in
rps; ~0.22 among the legal tic-tac-toe squares), the training win rate (stochastic policy, last rollout),
and the greedy evaluation: win rate and mean return over 256 matches (64 for tic-tac-toe).

Settings:
- `cycle`: matrix:rps, 10 rounds, observe_last_action=True, against `rps_cycle80` (below): after round one it
  plays what beats its OWN previous move 80% of the time. The learner observes that move, so the opponent's
  next action is a function of the learner's observation (DRON's setting): a perfect model is right
  0.8 + 0.2/3 = 0.87 of the time; best reply: what beats the predicted move, +7.2 per match.
- `beat_last`: the same game against algorithms.envs.scripted:rps_beat_last70 (conditioned on the learner's
  own last move, which the learner does not observe).
- `ttt`: tictactoe_v3 first seat against algorithms.envs.scripted:first_legal.
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from algorithms import make
from algorithms.core.vec_env import make_vec_env

RPS10 = ("matrix:rps", {"repeat": 10, "observe_last_action": True})
TTT = ("pettingzoo.classic:tictactoe_v3", {})
SETTINGS = {  # name: (env, kwargs, opponents, budgets)
    "cycle": (*RPS10, "benchmarks.opponent_modeling:rps_cycle80", (800, 1600)),
    "beat_last": (*RPS10, "algorithms.envs.scripted:rps_beat_last70", (8000,)),
    "ttt": (*TTT, "algorithms.envs.scripted:first_legal", (1500,)),
}

_memory: dict[int, dict] = {}


def rps_cycle80(obs: np.ndarray, action_mask, agent: str, rng: np.random.Generator) -> int:
    """What beats its own previous move 80% of the time, uniform otherwise (and in round one).

    Scripted opponents are stateless calls, so this one remembers its moves per Opponents object (keyed by
    its rng, which it keeps alive) and per env copy by call order. That is only valid where every copy is
    in the same round at every step: a fixed-length repeated matrix game such as matrix:rps (all copies
    reset together; a block of round-one calls gives the number of copies). Not saved in checkpoints.
    """
    m = _memory.setdefault(id(rng), {"rng": rng, "k": None, "moves": [], "calls": 0, "first": False})
    first = bool(obs[-1] == 1)  # slot 3: no previous round
    if first and not m["first"]:  # a new episode for every copy: count them again
        m["k"], m["moves"], m["calls"] = None, [], 0
    if not first and m["k"] is None:
        m["k"] = len(m["moves"])
    m["first"] = first
    i = m["calls"] % m["k"] if m["k"] else m["calls"]
    m["calls"] += 1
    move = (m["moves"][i] + 1) % 3 if not first and rng.random() < 0.8 else int(rng.integers(3))
    if m["k"] is None:
        m["moves"].append(move)
    else:
        m["moves"][i] = move
    return int(move)


def train(algo: str, env: str, kwargs: dict, opponents: str, steps: int, seed: int):
    torch.manual_seed(seed)
    envs = make_vec_env(env, kwargs, num_envs=8)
    learner = make(algo, envs, opponents=opponents)
    learner.begin(envs.reset(seed=seed))
    rows = []
    learner.learn(steps, lambda a, m: rows.append(m))
    return learner, rows[-1]


def evaluate(learner, env: str, kwargs: dict, episodes: int, seed: int = 123) -> tuple[float, float]:
    """Greedy play: (win rate, mean return) of the learner over `episodes` matches."""
    envs = make_vec_env(env, kwargs, num_envs=16)
    step, results = envs.reset(seed=seed), []
    while len(results) < episodes:
        actions, _ = learner.act(step, None, deterministic=True)
        step = envs.step(actions)
        results += [r for _, r, _ in step.finished]
    returns = np.stack(results[:episodes])
    mine, others = returns[:, learner.learner], np.delete(returns, learner.learner, axis=1).max(axis=1)
    return float((mine > others).mean()), float(mine.mean())


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
        env, kwargs, opponents, budgets = SETTINGS[name]
        episodes = 64 if name == "ttt" else 256
        for steps in budgets:
            for algo in ("single_agent", "opponent_modeling"):
                wins, rets = [], []
                for seed in seeds:
                    learner, last = train(algo, env, kwargs, opponents, steps, seed)
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
