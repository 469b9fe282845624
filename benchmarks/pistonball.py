"""Image observations at scale: IPPO on pistonball_v6 (20 agents, one image each), throughput and learning.

    python benchmarks/pistonball.py                       # 12,800 env steps, seed 0 (long on 2 CPU cores)
    python benchmarks/pistonball.py --steps 3200 --episodes 5
    python benchmarks/pistonball.py --steps 50000 --eval-every 25000 --set epochs=4 --set batch_steps=500 --set minibatches=32
                                                          # the learning curve in docs/environments.md

Preprocessing as a user would pass it: discrete actions (down / stay / up), each piston's 457 x 120 x 3 view
resized to 64 x 16, grayscale, 2 frames stacked (`--env-kwarg obs_resize=64x16 ...`). Prints:
- raw stepping of the same preprocessed env with random actions (env steps/s),
- IPPO training (collection + CNN updates), env steps/s and the peak resident memory,
- the trained policy's per-agent return over `--episodes` deterministic episodes (at every `--eval-every` env
  steps, and at the end), beside uniformly random play and every piston staying still, on the same episodes
  (same reset seeds); `--set KEY=VALUE` overrides an IPPO config field.
The machine is shared and noisy: absolute seconds are indicative; ratios come from one run.
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

from advisor.cli_options import parse_set_options  # noqa: E402
from algorithms import make  # noqa: E402
from algorithms.core.env_registry import make_vec_env  # noqa: E402
from algorithms.core.reference_policies import FixedPolicy  # noqa: E402
from algorithms.training.evaluate import play_episodes, summarise  # noqa: E402

ENV = "pettingzoo.butterfly:pistonball_v6"
KWARGS = {"continuous": False, "obs_resize": "64x16", "obs_grayscale": True, "obs_frame_stack": 2}


class Stay(FixedPolicy):
    """Every piston keeps still (discrete action 1)."""

    def act(self, step, memory, deterministic):
        return np.ones(step.obs.shape[:2], np.int64), None


def raw_steps_per_s(seconds: float) -> float:
    envs = make_vec_env(ENV, KWARGS, 1)
    envs.request_state(False)
    envs.reset(seed=0)
    rng, n, steps, start = np.random.default_rng(0), envs.info.n_agents, 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        envs.step(rng.integers(0, 3, (1, n)))
        steps += 1
    return steps / (time.perf_counter() - start)


def played(policy, episodes: int, seed: int, agents) -> dict:
    return summarise(play_episodes(policy, ENV, KWARGS, episodes, True, 10_000 + seed), agents, True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=12_800)
    parser.add_argument("--num-envs", type=int, default=4)
    parser.add_argument("--episodes", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--eval-every", type=int, default=0, help="evaluate every this many env steps (0: at the end)")
    parser.add_argument("--set", action="append", default=[], help="IPPO config field KEY=VALUE (repeatable)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(f"{ENV} {KWARGS}, torch {torch.__version__}, 1 thread")
    print(f"raw stepping (preprocessed, 1 copy): {raw_steps_per_s(20):.1f} env steps/s")
    overrides = parse_set_options(args.set)  # the CLI's --set parser; make() checks and types each value
    algo = make("ippo", ENV, env_kwargs=KWARGS, num_envs=args.num_envs, seed=args.seed, **overrides)
    print(f"IPPO overrides {overrides or 'none'}")
    seconds, chunk = 0.0, args.eval_every or args.steps
    while algo.env_steps < args.steps:
        start = time.perf_counter()
        algo.learn(min(algo.env_steps + chunk, args.steps))  # learn() takes a total
        seconds += time.perf_counter() - start
        if algo.env_steps < args.steps:
            result = played(algo, args.episodes, args.seed, algo.info.agents)
            print(f"  {algo.env_steps:>8,} env steps ({seconds:.0f} s training): IPPO per-agent return "
                  f"{result['return_mean']:8.2f} ± {result['return_std']:.2f}", flush=True)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(f"IPPO training, {args.num_envs} copies: {algo.env_steps:,} env steps in {seconds:.0f} s = "
          f"{algo.env_steps / seconds:.1f} env steps/s; peak resident memory {peak:.1f} GiB")
    for name, policy in (("IPPO", algo), ("random play", FixedPolicy(algo.info, "random", args.seed)),
                         ("all stay", Stay(algo.info, "noop"))):
        result = played(policy, args.episodes, args.seed, algo.info.agents)
        print(f"  {name:<12} per-agent return {result['return_mean']:8.2f} ± {result['return_std']:.2f} "
              f"over {args.episodes} episodes")


if __name__ == "__main__":
    main()
