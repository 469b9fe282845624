"""Many agents on simple_spread: mean-field learners beside IPPO and MAPPO at the same env-step budget.

    python benchmarks/spread_many.py --n 50 --algos mfq,mfac,ippo --steps 100000 --eval-every 25000

Each algorithm trains with its defaults (its default copy count on the batched backend) on
`batched:simple_spread_v3 --env-kwarg N=n`, seed by seed; every `--eval-every` env steps it plays `--episodes`
deterministic episodes (same reset seeds for every algorithm) and the line gives the per-agent return, the training
seconds so far and env steps/s. Random play and doing nothing on the same episodes come first. An algorithm whose
first update does not arrive within `--seconds` is stopped and reported as such. The machine is shared and noisy:
seconds are indicative.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from algorithms import make  # noqa: E402
from algorithms.core.reference_policies import FixedPolicy  # noqa: E402
from algorithms.training.evaluate import play_episodes, summarise  # noqa: E402

ENV = "batched:simple_spread_v3"


def played(policy, kwargs: dict, episodes: int, agents) -> float:
    return summarise(play_episodes(policy, ENV, kwargs, episodes, True, 20_000), agents, True)["return_mean"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=50)
    parser.add_argument("--algos", default="mfq,mfac,ippo,mappo")
    parser.add_argument("--steps", type=int, default=100_000)
    parser.add_argument("--eval-every", type=int, default=25_000)
    parser.add_argument("--episodes", type=int, default=16)
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=1800.0, help="give up on an algorithm after this long")
    args = parser.parse_args()
    torch.set_num_threads(1)
    kwargs = {"N": args.n}
    probe = make("mfq", ENV, env_kwargs=kwargs, num_envs=1)
    print(f"{ENV} N={args.n}, torch {torch.__version__}, 1 thread; observation {probe.info.obs_dim}, "
          f"state {probe.info.state_dim}")
    for name, policy in (("random play", FixedPolicy(probe.info, "random", 0)), ("all stay", FixedPolicy(probe.info, "noop", 0))):
        print(f"  {name:<12} per-agent return {played(policy, kwargs, args.episodes, probe.info.agents):8.2f}")
    for algo_id in args.algos.split(","):
        finals = []
        for seed in range(args.seeds):
            algo = make(algo_id, ENV, env_kwargs=kwargs, seed=seed)
            seconds, given_up = 0.0, False
            while algo.env_steps < args.steps and not given_up:
                start = time.perf_counter()
                target = min(algo.env_steps + args.eval_every, args.steps)

                def budget(a, metrics, start=start):  # stop an algorithm that cannot reach the budget in time
                    return seconds + time.perf_counter() - start < args.seconds

                algo.learn(target, budget)
                seconds += time.perf_counter() - start
                given_up = algo.env_steps < target
                result = played(algo, kwargs, args.episodes, algo.info.agents)
                print(f"  {algo_id:<6} seed {seed} {algo.env_steps:>8,} env steps ({seconds:6.0f} s, "
                      f"{algo.env_steps / seconds:6.1f} env steps/s, {algo.envs.num_envs} copies): per-agent return "
                      f"{result:8.2f}" + ("  [stopped: --seconds reached]" if given_up else ""), flush=True)
            finals.append(result)
        print(f"  {algo_id}: final per-agent return {np.mean(finals):.2f} over {len(finals)} seed(s)", flush=True)


if __name__ == "__main__":
    main()
