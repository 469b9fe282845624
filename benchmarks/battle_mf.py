"""MF-Q against independent Q-learning in MAgent2's battle_v4 (81 vs 81 at the default map), as in Yang et al. 2018.

    python benchmarks/battle_mf.py --steps 100000 --battles 100            # train both, then battle
    python benchmarks/battle_mf.py --battles 100 --out runs/battle-mf      # battle again with the saved policies

Each arm trains in self-play: both armies are the same algorithm, each army its own network (teams=auto: red_*,
blue_*), for the same env steps and seed. The independent learner is the paper's IL baseline: MF-Q with
`mean_action=false` (the same network, replay and Boltzmann exploration, without the neighbours' mean action;
the registered `iql` keeps whole episodes in replay, which for 162 agents x 400 steps does not fit here).
Then MF-Q's red army fights IL's blue army, and MF-Q's blue fights IL's red, `--battles` in all (half each
way), greedy actions. Prints training env steps/s and peak memory per arm, and per battle direction the win rate
(a win: more survivors when the battle ends), the kill ratio (MF-Q's kills / IL's kills) and mean survivors.
The machine is shared and noisy: seconds are indicative.
"""
from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from algorithms import load, make  # noqa: E402
from algorithms.core.env_registry import make_env  # noqa: E402

ENV = "magent2.environments:battle_v4"
ARMS = {"mfq": {"mean_action": True}, "il": {"mean_action": False}}


def train(arm: str, args, path: Path) -> None:
    algo = make("mfq", ENV, env_kwargs=args.env_kwargs, num_envs=args.num_envs, seed=args.seed, **ARMS[arm])
    start = time.perf_counter()
    last_print = start

    def progress(a, metrics):
        nonlocal last_print
        if time.perf_counter() - last_print > 60:
            last_print = time.perf_counter()
            print(f"    {arm}: {a.env_steps:,} env steps, training return {metrics['charts/return_mean']:.3f}",
                  flush=True)

    algo.learn(args.steps, progress)
    seconds = time.perf_counter() - start
    # Before saving (which copies the replay); the process-wide peak, so the second arm's includes the first's save.
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    algo.save(path)
    print(f"  {arm}: {algo.env_steps:,} env steps in {seconds:.0f} s = {algo.env_steps / seconds:.1f} env steps/s "
          f"({algo.envs.num_envs} copies, {algo.info.n_agents} agents); peak resident memory so far (training) {peak:.2f} GiB",
          flush=True)


def battle(red, blue, env_kwargs: dict, seed: int) -> tuple[int, int]:
    """One battle, red army from `red`, blue from `blue` (greedy); returns the survivors (red, blue)."""
    env = make_env(ENV, env_kwargs)
    observations, _ = env.reset(seed=seed)
    first = True
    while env.agents:
        red_actions = red.predict(observations, deterministic=True, episode_start=first)
        blue_actions = blue.predict(observations, deterministic=True, episode_start=first)
        first = False
        actions = {a: (red_actions if a.startswith("red") else blue_actions)[a] for a in env.agents}
        observations, _, terminations, truncations, _ = env.step(actions)
        if all(terminations.values()) or all(truncations.values()):
            break
    world, handles = env.unwrapped.env, env.unwrapped.handles
    counts = (int(world.get_num(handles[0])), int(world.get_num(handles[1])))
    env.close()
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=100_000, help="env steps per arm (0: only battle saved arms)")
    parser.add_argument("--battles", type=int, default=100)
    parser.add_argument("--num-envs", type=int, default=4)
    parser.add_argument("--max-cycles", type=int, default=400)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("runs/battle-mf"))
    args = parser.parse_args()
    args.env_kwargs = {"max_cycles": args.max_cycles}
    torch.set_num_threads(1)
    args.out.mkdir(parents=True, exist_ok=True)
    print(f"{ENV} {args.env_kwargs}, seed {args.seed}, torch {torch.__version__}, 1 thread")
    for arm in ARMS:
        path = args.out / f"{arm}.pt"
        if args.steps and not path.exists():
            train(arm, args, path)
    mfq, il = load(args.out / "mfq.pt"), load(args.out / "il.pt")
    print(f"battles ({args.battles}, greedy; trained {mfq.env_steps:,} and {il.env_steps:,} env steps):")
    totals = np.zeros(5)  # MF-Q wins, IL wins, draws, MF-Q kills, IL kills
    for side, (red, blue) in (("MF-Q red vs IL blue", (mfq, il)), ("IL red vs MF-Q blue", (il, mfq))):
        survivors = np.array([battle(red, blue, args.env_kwargs, 50_000 + b) for b in range(args.battles // 2)])
        mf_alive, il_alive = (survivors[:, 0], survivors[:, 1]) if red is mfq else (survivors[:, 1], survivors[:, 0])
        army = mfq.info.n_agents // 2
        kills_mf, kills_il = (army - il_alive).sum(), (army - mf_alive).sum()
        print(f"  {side}: MF-Q wins {np.mean(mf_alive > il_alive):.2f}, IL wins {np.mean(il_alive > mf_alive):.2f}, "
              f"draws {np.mean(mf_alive == il_alive):.2f}; survivors MF-Q {mf_alive.mean():.1f} IL {il_alive.mean():.1f};"
              f" kill ratio MF-Q/IL {kills_mf / max(kills_il, 1):.2f}", flush=True)
        totals += [(mf_alive > il_alive).sum(), (il_alive > mf_alive).sum(), (mf_alive == il_alive).sum(), kills_mf,
                   kills_il]
    print(f"  both sides: MF-Q wins {totals[0]:.0f}, IL wins {totals[1]:.0f}, draws {totals[2]:.0f}; "
          f"kill ratio MF-Q/IL {totals[3] / max(totals[4], 1):.2f}")


if __name__ == "__main__":
    main()
