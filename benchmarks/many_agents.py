"""Many agents: env steps per second with 20, 100 and 500 agents, and what the PettingZoo adapter adds per agent-step.

    python benchmarks/many_agents.py              # all rows (about 2 minutes)
    python benchmarks/many_agents.py --seconds 10 # longer timing windows

Rows:
- `batched:simple_spread_v3` with N agents (our native batched MPE, 16 copies): env steps/s and agent-steps/s.
- `mpe2:simple_spread_v3` with N agents: the PettingZoo env stepped directly (random actions, as unchecked as our
  trainers build it) against the same env behind the adapter (core/pettingzoo_vec_env.py, 1 copy).
- `magent2.environments:battle_v4` (hundreds of agents, agents die): the same comparison at two map sizes.
For the adapter rows: microseconds per agent-step raw and through the adapter, and the adapter's share of the time;
also raw stepping plus one concatenation of the observations into an array (the least any learner must do with
them), and the adapter's share beyond that floor.
Single-threaded; the machine is shared and noisy, so absolute figures are indicative and ratios come from one run.
"""
from __future__ import annotations

import argparse
import importlib.util
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from algorithms.core.env_registry import make_env, make_vec_env  # noqa: E402


def timed(step, seconds: float) -> tuple[int, int, float]:
    """Call step() (returning agent-steps done) for `seconds`: (calls, agent-steps, elapsed)."""
    calls = agent_steps = 0
    start = time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        agent_steps += step()
        calls += 1
    return calls, agent_steps, elapsed


def raw_vs_adapter(env_id: str, kwargs: dict, seconds: float) -> dict:
    env = make_env(env_id, kwargs, checked=False)
    env.reset(seed=0)
    rng = np.random.default_rng(0)

    n_actions = np.array([env.action_space(a).n for a in env.possible_agents])
    index = {a: i for i, a in enumerate(env.possible_agents)}

    def raw_step(gather: bool = False) -> int:  # random actions drawn at once, as the adapter's caller does
        live = list(env.agents)
        actions = (rng.random(len(n_actions)) * n_actions).astype(np.int64).tolist()
        observations = env.step({a: actions[index[a]] for a in live})[0]
        if gather:  # the least any learner must do: the observations in one array
            np.concatenate([np.ravel(o) for o in observations.values()])
        if not env.agents:
            env.reset()
        return len(live)

    raw = timed(raw_step, seconds)
    floor = timed(lambda: raw_step(gather=True), seconds)
    envs = make_vec_env(env_id, kwargs, 1)
    envs.request_state(False)  # as for IPPO, VDN, IQL: the env's state() is not computed
    envs.reset(seed=0)
    n, sizes = envs.info.n_agents, np.asarray(envs.info.action_sizes)

    def adapter_step() -> int:
        live = len(envs.copies[0].env.agents)
        envs.step((rng.random((1, n)) * sizes).astype(np.int64))
        return live

    ours = timed(adapter_step, seconds)
    us_raw, us_ours = 1e6 * raw[2] / raw[1], 1e6 * ours[2] / ours[1]
    us_floor = 1e6 * floor[2] / floor[1]
    return {"agents": n, "raw_steps_per_s": raw[0] / raw[2], "adapter_steps_per_s": ours[0] / ours[2],
            "us_per_agent_step_raw": us_raw, "us_per_agent_step_adapter": us_ours,
            "us_per_agent_step_gathered": us_floor,
            "adapter_share": (us_ours - us_raw) / us_ours,
            "adapter_share_beyond_gather": (us_ours - us_floor) / us_ours}


def batched(n: int, seconds: float, copies: int = 16) -> dict:
    envs = make_vec_env("batched:simple_spread_v3", {"N": n, "max_cycles": 25}, copies)
    envs.reset(seed=0)
    rng = np.random.default_rng(0)

    def step() -> int:
        envs.step(rng.integers(0, 5, (copies, n)))
        return copies * n

    calls, agent_steps, elapsed = timed(step, seconds)
    return {"agents": n, "env_steps_per_s": calls * copies / elapsed, "agent_steps_per_s": agent_steps / elapsed}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=4.0, help="timing window per row")
    args = parser.parse_args()
    torch.set_num_threads(1)
    warnings.filterwarnings("ignore")
    print("batched:simple_spread_v3, 16 copies (native batched MPE)")
    for n in (20, 100, 500):
        r = batched(n, args.seconds)
        print(f"  N={n:>3}: {r['env_steps_per_s']:9,.0f} env steps/s  {r['agent_steps_per_s']:11,.0f} agent-steps/s")
    print("PettingZoo env stepped directly vs behind the adapter (1 copy); us = microseconds per agent-step")
    rows = [("mpe2:simple_spread_v3", {"N": 20, "max_cycles": 25}), ("mpe2:simple_spread_v3", {"N": 100, "max_cycles": 25})]
    if importlib.util.find_spec("magent2") is not None:
        rows += [("magent2.environments:battle_v4", {"map_size": 45}),
                 ("magent2.environments:battle_v4", {"map_size": 80})]
    else:
        print("  (magent2 not installed: pip install magent2 for the battle_v4 rows)")
    for env_id, kwargs in rows:
        r = raw_vs_adapter(env_id, kwargs, args.seconds)
        print(f"  {env_id} {kwargs}: {r['agents']} agents; raw {r['raw_steps_per_s']:8,.1f} steps/s "
              f"({r['us_per_agent_step_raw']:.2f} us), adapter {r['adapter_steps_per_s']:8,.1f} steps/s "
              f"({r['us_per_agent_step_adapter']:.2f} us); adapter share {100 * r['adapter_share']:.0f}%; "
              f"raw + observations gathered into one array {r['us_per_agent_step_gathered']:.2f} us, "
              f"adapter share beyond that {100 * r['adapter_share_beyond_gather']:.0f}%")


if __name__ == "__main__":
    main()
