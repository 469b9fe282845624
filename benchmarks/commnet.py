"""CommNet against its comm_steps=0 ablation (IPPO with the same networks), several seeds, same budget.

    python benchmarks/commnet.py --steps 200000 --seeds 0 1 2
    python benchmarks/commnet.py --env algorithms.envs.silent_speaker_listener:silent_speaker_listener

Prints per seed the deterministic evaluation return (per agent, 64 episodes) of CommNet and the ablation,
and, from dump_messages on 32 episodes: "explained", the share of the variance of the speaker's last-round
message explained by its goal colour, and "influence", how far the listener's action distribution moves
(total variation) when the speaker alone is shown another goal colour at the same step.
Bars for speaker-listener (docs/defaults.md): random -41.3, do-nothing -34.2 per agent.
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from algorithms.training.commnet_messages import dump_messages
from algorithms.training.run import RunSpec, Trainer

SETTINGS = {"rollout_steps": 25, "minibatches": 2}  # as the MAPPO learning test


def train(env: str, steps: int, seed: int, comm_steps: int, root: Path, num_envs: int = 16):
    spec = RunSpec("commnet", env, {}, steps=steps, seed=seed, num_envs=num_envs, device="cpu",
                   checkpoint_every=10**9, eval_episodes=64, config={**SETTINGS, "comm_steps": comm_steps})
    trainer = Trainer.create(spec, root / f"c{comm_steps}-s{seed}")
    return trainer.train(), trainer.algo


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="mpe2:simple_speaker_listener_v4")
    parser.add_argument("--steps", type=int, default=200_000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--comm-steps", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(1)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in args.seeds:
            row = {"seed": seed}
            for comm in (args.comm_steps, 0):
                start = time.perf_counter()
                result, algo = train(args.env, args.steps, seed, comm, Path(tmp))
                row[comm] = result["return_mean"]
                if comm:
                    summary = dump_messages(algo, args.env, {}, 32, seed + 20_000, Path(tmp) / f"m{seed}.npz")
                    last = next(iter(summary["messages"].values()))[-1]  # the first agent's last round
                    row["explained"] = last.get("explained_by_hidden", float("nan"))
                    row["influence"] = next(iter(summary["influence"].values()), float("nan"))
                print(f"seed {seed} comm_steps={comm}: {result['return_mean']:.2f} "
                      f"({time.perf_counter() - start:.0f}s)", flush=True)
            rows.append(row)
    print(f"\n{args.env}, {args.steps} env steps, 16 copies, {SETTINGS}, eval 64 deterministic episodes")
    print(f"{'seed':>4} {'commnet':>9} {'ablation':>9} {'gap':>7} {'explained':>10} {'influence':>10}")
    for r in rows:
        print(f"{r['seed']:>4} {r[args.comm_steps]:>9.2f} {r[0]:>9.2f} {r[args.comm_steps] - r[0]:>7.2f} "
              f"{r['explained']:>10.2f} {r['influence']:>10.2f}")
    gaps = [r[args.comm_steps] - r[0] for r in rows]
    print(f"mean gap {np.mean(gaps):.2f}, smallest {min(gaps):.2f}")


if __name__ == "__main__":
    main()
