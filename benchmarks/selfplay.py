"""Self-play: tic-tac-toe against random play, and exploitability of the pool average on matrix games.

    python benchmarks/selfplay.py                       # both tables, full budgets (several minutes on one core)
    python benchmarks/selfplay.py --only tictactoe --budget 100000 --seeds 0,1,2
    python benchmarks/selfplay.py --only matrix --budget 16000

Tic-tac-toe: win / draw / loss of the greedy policy in 200 games against uniformly random legal moves,
playing first (player_1) in 100 and second (player_2) in 100. For reference, random against random wins
about 58% / 29% of games as first / second player. Matrix games: exploitability (NashConv / 2, payoff units)
of the pool average (fictitious-play style, uniform opponent sampling), of the meta-Nash weighted pool
(PSRO, opponent_sampling=nash, its own learning rate and entropy) and of naive self-play's last iterate
(opponent_sampling=latest), same budget and seed.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from algorithms import make  # noqa: E402
from algorithms.base import parse_set_options  # noqa: E402
from algorithms.core.competitive_eval import play, random_opponent  # noqa: E402
from algorithms.core.seeding import seed_everything  # noqa: E402
from algorithms.core.vec_env import make_vec_env  # noqa: E402

TICTACTOE = "pettingzoo.classic:tictactoe_v3"
MATRIX_CONFIG = {"rollout_steps": 8, "pool_size": 100, "snapshot_every": 2, "lr": 1e-4, "entropy_coef": 0.01}
PSRO_CONFIG = {**MATRIX_CONFIG, "lr": 1e-3, "entropy_coef": 0.05, "opponent_sampling": "nash"}


def train(env: str, budget: int, seed: int, num_envs: int, overrides: dict):
    seed_everything(seed)
    envs = make_vec_env(env, {}, num_envs)
    algo = make("self_play", envs, **overrides)
    algo.begin(envs.reset(seed=seed))
    last: dict = {}
    algo.learn(budget, lambda a, m: last.update(m))
    return algo, last


def tictactoe(budget: int, seeds: list[int], overrides: dict) -> None:
    print(f"tic-tac-toe, {budget:,} env steps, config {overrides or 'defaults'}, 200 greedy games against random play per seed")
    print("seed  win   draw  loss | first: win loss | second: win loss | train s")
    for seed in seeds:
        start = time.perf_counter()
        algo, _ = train(TICTACTOE, budget, seed, 8, overrides)
        seconds = time.perf_counter() - start
        r = play(algo, TICTACTOE, {}, random_opponent(algo.info, seed + 1), 200, deterministic=True, seed=seed + 1)
        first, second = r["by_seat"]["player_1"], r["by_seat"]["player_2"]
        print(f"{seed:>4}  {r['win']:.3f} {r['draw']:.3f} {r['loss']:.3f} | {first['win']:.3f} {first['loss']:.3f}"
              f"       | {second['win']:.3f} {second['loss']:.3f}        | {seconds:.0f}")


def matrix(budget: int, seeds: list[int]) -> None:
    print(f"matrix games, {budget:,} env steps on biased RPS, half that on RPS (16 copies): exploitability, payoff units")
    print("game         seed  pool average  PSRO (meta-Nash)  naive last iterate")
    for game, steps in (("matrix:biased_rps", budget), ("matrix:rps", budget // 2)):
        for seed in seeds:
            pooled = train(game, steps, seed, 16, MATRIX_CONFIG)[1]
            psro = train(game, steps, seed, 16, PSRO_CONFIG)[1]
            naive = train(game, steps, seed, 16, {**MATRIX_CONFIG, "opponent_sampling": "latest"})[1]
            print(f"{game.split(':')[1]:<12} {seed:>4}  {pooled['selfplay/exploitability']:>12.3f}"
                  f"  {psro['selfplay/exploitability']:>16.4f}  {naive['selfplay/exploitability_latest']:>18.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", choices=("tictactoe", "matrix"))
    parser.add_argument("--budget", type=int, help="env steps (default: 150000 tic-tac-toe, 16000 biased RPS)")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--set", action="append", default=[], help="tic-tac-toe config override KEY=VALUE")
    args = parser.parse_args()
    torch.set_num_threads(1)
    seeds = [int(s) for s in args.seeds.split(",")]
    if args.only in (None, "tictactoe"):
        tictactoe(args.budget or 150_000, seeds, parse_set_options(args.set))
    if args.only in (None, "matrix"):
        matrix(args.budget or 16_000, seeds)


if __name__ == "__main__":
    main()
