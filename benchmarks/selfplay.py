"""Self-play: tic-tac-toe against random play, and exploitability of the pool average on matrix games.

    python benchmarks/selfplay.py                       # both tables (tic-tac-toe: about 7 minutes a seed on one core)
    python benchmarks/selfplay.py --only tictactoe --seeds 0,1,2,3,4     # docs/self-play.md's tic-tac-toe table
    python benchmarks/selfplay.py --only tictactoe --no-recipe --budget 300000  # self_play's defaults
    python benchmarks/selfplay.py --only matrix --budget 16000

Tic-tac-toe trains with TICTACTOE_RECIPE (random-play anchor, bigger rollouts; docs/self-play.md) unless
--no-recipe; --set KEY=VALUE overrides either.

Tic-tac-toe: every --eval-every steps, the greedy policy's exact win and loss probabilities against uniformly
random legal moves as first (player_1) and as second (player_2) player (the whole game tree walked:
`exact_vs_random`, no sampling error), beside the exact best possible rates. For reference, random against
random wins about 58% / 29% as first / second player. Matrix games: exploitability (NashConv / 2, payoff units)
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
from advisor.cli_options import parse_set_options  # noqa: E402
from algorithms.envs.tictactoe_oracle import against_random  # noqa: E402
from algorithms.training.competitive_eval import exact_vs_random  # noqa: E402
from algorithms.core.seeding import seed_everything  # noqa: E402
from algorithms.core.env_registry import make_vec_env  # noqa: E402

TICTACTOE = "pettingzoo.classic:tictactoe_v3"
# random_prob: half the games against random play, the anchor that teaches defence; rollout_steps=256
# (2,048 steps an update on 8 copies): steadier updates, the bar held instead of touched.
TICTACTOE_RECIPE = {"random_prob": 0.5, "lr": 1e-3, "gae_lambda": 0.8, "rollout_steps": 256}
BAR_WIN, BAR_LOSS = 0.90, 0.02  # the tic-tac-toe bar against random play, in each seat
MATRIX_CONFIG = {"rollout_steps": 8, "pool_size": 100, "snapshot_every": 2, "lr": 1e-4, "entropy_coef": 0.01}
PSRO_CONFIG = {**MATRIX_CONFIG, "lr": 1e-3, "entropy_coef": 0.05, "opponent_sampling": "nash"}


def build(env: str, seed: int, num_envs: int, overrides: dict):
    """A seeded self_play learner on `num_envs` copies of `env`, ready to learn."""
    seed_everything(seed)
    envs = make_vec_env(env, {}, num_envs)
    algo = make("self_play", envs, **overrides)
    algo.begin(envs.reset(seed=seed))
    return algo


def train(env: str, budget: int, seed: int, num_envs: int, overrides: dict):
    algo = build(env, seed, num_envs, overrides)
    last: dict = {}
    algo.learn(budget, lambda a, m: last.update(m))
    return algo, last


def best_against_random() -> dict[str, tuple[float, float, float]]:
    """The best player against uniformly random moves (maximising wins minus losses), as first and as
    second player: the ceiling for the table."""
    best = lambda outcomes: max(outcomes, key=lambda o: o[0] - o[2])  # noqa: E731
    return {"first": against_random("X", best), "second": against_random("O", best)}


def tictactoe(budget: int, seeds: list[int], overrides: dict, eval_every: int, num_envs: int) -> None:
    best = best_against_random()
    print(f"tic-tac-toe, {num_envs} copies, up to {budget:,} env steps, config {overrides or 'defaults'}; "
          f"every {eval_every:,} steps the greedy policy's exact rates against uniformly random legal moves")
    print(f"best possible (exact): first {best['first'][0]:.3f} win / {best['first'][2]:.3f} loss, "
          f"second {best['second'][0]:.3f} / {best['second'][2]:.3f}")
    print("seed    steps | first: win  loss | second: win  loss | train s")
    for seed in seeds:
        algo = build(TICTACTOE, seed, num_envs, overrides)
        seconds, held_from = 0.0, None
        for steps in range(eval_every, budget + 1, eval_every):
            start = time.perf_counter()
            algo.learn(steps)
            seconds += time.perf_counter() - start
            first, second = exact_vs_random(algo, TICTACTOE).values()
            print(f"{seed:>4} {steps:>8,} |      {first['win']:.3f} {first['loss']:.3f} |       {second['win']:.3f} "
                  f"{second['loss']:.3f} | {seconds:.0f}", flush=True)
            meets = all(seat["win"] >= BAR_WIN and seat["loss"] <= BAR_LOSS for seat in (first, second))
            held_from = (held_from or steps) if meets else None
        print(f"seed {seed}: the bar (both seats >= {BAR_WIN:.0%} wins, <= {BAR_LOSS:.0%} losses) "
              + (f"met at every evaluation from {held_from:,} steps to the end" if held_from else
                 "not met at the last evaluation"), flush=True)


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
    parser.add_argument("--budget", type=int, help="env steps (default: 1200000 tic-tac-toe, 16000 biased RPS)")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--set", action="append", default=[], help="tic-tac-toe config override KEY=VALUE")
    parser.add_argument("--no-recipe", action="store_true", help="tic-tac-toe: self_play's defaults, not the recipe")
    parser.add_argument("--eval-every", type=int, default=100_000, help="tic-tac-toe env steps between evaluations")
    parser.add_argument("--num-envs", type=int, default=8, help="tic-tac-toe env copies")
    args = parser.parse_args()
    torch.set_num_threads(1)
    seeds = [int(s) for s in args.seeds.split(",")]
    if args.only in (None, "tictactoe"):
        config = {**({} if args.no_recipe else TICTACTOE_RECIPE), **parse_set_options(args.set)}
        tictactoe(args.budget or 1_200_000, seeds, config, args.eval_every, args.num_envs)
    if args.only in (None, "matrix"):
        matrix(args.budget or 16_000, seeds)


if __name__ == "__main__":
    main()
