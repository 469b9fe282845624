"""The algorithms registry: id -> config class and implementation, and `make` / `load`, the Python API.
A new algorithm is one file plus one line in ALGORITHMS."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import torch

from pathlib import Path

from algorithms.base import Algorithm, AlgorithmConfig, apply_overrides, check_env_supported
from algorithms.core.env_registry import EnvSpec, make_vec_env
from algorithms.core.memory import is_allocation_failure
from algorithms.core.policy_file import read_policy
from algorithms.core.run_dir import CHECKPOINT, RunSpec, backfill_added_fields, read_spec, require_checkpoint
from algorithms.core.seeding import seed_everything
from algorithms.core.vec_env import VecEnv
from algorithms.errors import MARLError, did_you_mean
from algorithms.commnet import CommNet, CommNetConfig
from algorithms.maddpg import MADDPG, MADDPGConfig
from algorithms.mfac import MFAC, MFACConfig
from algorithms.mfq import MFQ, MFQConfig
from algorithms.mappo import MAPPO, IPPOConfig, MAPPOConfig
from algorithms.nash_q import NashQ, NashQConfig
from algorithms.selfplay import SelfPlay, SelfPlayConfig
from algorithms.opponent_modeling import OpponentModeling, OpponentModelingConfig
from algorithms.single_agent import SingleAgent, SingleAgentConfig
from algorithms.value_decomposition import IQLConfig, QMIXConfig, QPLEXConfig, ValueDecomposition, VDNConfig


@dataclass(frozen=True)
class AlgorithmEntry:
    id: str
    config_cls: type[AlgorithmConfig]
    algorithm_cls: type[Algorithm]
    summary: str
    loads_policies: bool = False  # takes `load_policy` (checkpoint opponents: a policy file or run directory)


ALGORITHMS: dict[str, AlgorithmEntry] = {
    "mappo": AlgorithmEntry("mappo", MAPPOConfig, MAPPO, "PPO, decentralised actors, centralised critic (Yu et al. 2022)"),
    "ippo": AlgorithmEntry("ippo", IPPOConfig, MAPPO, "PPO, decentralised actors, local critics (de Witt et al. 2020)"),
    "single_agent": AlgorithmEntry("single_agent", SingleAgentConfig, SingleAgent, "PPO for one learner; the other agents play fixed policies (random, scripted, checkpoint)", loads_policies=True),
    "opponent_modeling": AlgorithmEntry("opponent_modeling", OpponentModelingConfig, OpponentModeling, "PPO learner conditioned on a learnt model of each opponent's action (DRON-concat style, He et al. 2016)", loads_policies=True),
    "commnet": AlgorithmEntry("commnet", CommNetConfig, CommNet, "Agents average each other's hidden states, learnt end to end with PPO (Sukhbaatar et al. 2016)"),
    "maddpg": AlgorithmEntry("maddpg", MADDPGConfig, MADDPG, "DDPG actors, a centralised critic per agent or team (Lowe et al. 2017)"),
    "iql": AlgorithmEntry("iql", IQLConfig, ValueDecomposition, "Q-learning per agent on its own reward (Tan 1993; Tampuu et al. 2017)"),
    "vdn": AlgorithmEntry("vdn", VDNConfig, ValueDecomposition, "Team Q as the sum of agent utilities (Sunehag et al. 2018)"),
    "qmix": AlgorithmEntry("qmix", QMIXConfig, ValueDecomposition, "Monotonic state-conditioned mixing of utilities (Rashid et al. 2018)"),
    "qplex": AlgorithmEntry("qplex", QPLEXConfig, ValueDecomposition, "Duplex dueling mixing, full IGM class (Wang et al. 2021)"),
    "mfq": AlgorithmEntry("mfq", MFQConfig, MFQ, "Q-learning on the neighbours' mean action, a network per team, for hundreds of agents (Yang et al. 2018)"),
    "mfac": AlgorithmEntry("mfac", MFACConfig, MFAC, "Actor-critic whose critic reads the neighbours' mean action, a network pair per team (Yang et al. 2018)"),
    "nash_q": AlgorithmEntry("nash_q", NashQConfig, NashQ, "Tabular joint-action Q-learning backing up stage-game Nash equilibria, two players (Hu & Wellman 2003)"),
    "self_play": AlgorithmEntry("self_play", SelfPlayConfig, SelfPlay, "PPO against itself and a pool of past selves, two-player zero-sum (Silver et al. 2018; Heinrich et al. 2015)"),
}


def get_entry(algo_id: str) -> AlgorithmEntry:
    if algo_id not in ALGORITHMS:
        raise MARLError("unknown-algorithm", f"unknown algorithm '{algo_id}'",
                           did_you_mean(algo_id, ALGORITHMS) or f"bundled: {', '.join(ALGORITHMS)}")
    return ALGORITHMS[algo_id]


def make_config(algo_id: str, overrides: dict[str, Any] | None = None, source: str = "--set") -> AlgorithmConfig:
    return apply_overrides(get_entry(algo_id).config_cls(), overrides or {}, source)


def config_fields(algo_id: str) -> set[str]:
    """The config field names of `algo_id` (empty for an unknown id)."""
    return {f.name for f in dataclasses.fields(ALGORITHMS[algo_id].config_cls)} if algo_id in ALGORITHMS else set()


def default_num_envs(algo_id: str, env_id: str) -> int:
    """The copy count `algo_id` trains with on `env_id` by default (AlgorithmConfig.default_num_envs)."""
    native, pettingzoo = get_entry(algo_id).config_cls.default_num_envs
    return native if EnvSpec.parse(env_id).native else pettingzoo


def make(algo_id: str, env: str | VecEnv, config: AlgorithmConfig | None = None, device: str | torch.device = "cpu",
         *, env_kwargs: dict[str, Any] | None = None, num_envs: int = 0, seed: int | None = None,
         **overrides: Any) -> Algorithm:
    """Build algorithm `algo_id` on `env`, refusing environments it cannot handle.

    `env` is an env string (`mpe2:simple_spread_v3`, `batched:simple_spread_v3`, `matrix:climbing`,
    `package.module:factory`) with `env_kwargs`, run as `num_envs` copies (0: the algorithm's default for that
    backend); or an already batched VecEnv. `seed` seeds torch, NumPy and the env copies. `overrides` set
    config fields by name (`lr=5e-4`), on top of `config` or the algorithm's defaults."""
    entry = get_entry(algo_id)
    if isinstance(env, str):
        if seed is not None:
            seed_everything(seed)
        env = make_vec_env(env, env_kwargs, num_envs or default_num_envs(algo_id, env))
        fresh = True
    elif env_kwargs or num_envs:
        raise MARLError("bad-argument", "env_kwargs and num_envs apply to an env string, not to a built VecEnv")
    else:
        fresh = False
    check_env_supported(entry.config_cls, algo_id, env.info, ALGORITHMS)
    config = apply_overrides(config or entry.config_cls(), overrides, source="make()")
    services = {"load_policy": load_policy_source} if entry.loads_policies else {}
    try:
        algo = entry.algorithm_cls(config, env, torch.device(device), **services)
    except (MemoryError, RuntimeError) as err:
        if not is_allocation_failure(err):
            raise
        raise MARLError("too-large", f"{algo_id}'s networks and buffers for '{env.info.env_id}' do not fit in memory "
                        f"({type(err).__name__}: {str(err).splitlines()[0][:160]})",
                        "make observations smaller (--env-kwarg obs_resize=HxW for images), or lower --set "
                        "buffer_size / hidden_size") from None
    algo.algo_id = algo_id
    if fresh:
        algo.begin(env.reset(seed=seed))
    return algo


def load(path: str | Path, device: str | torch.device = "cpu", num_envs: int = 0) -> Algorithm:
    """An algorithm saved by `algo.save(path)`, rebuilt on its env (`num_envs` copies; 0: as saved), ready to
    `predict` or to `learn` further. Reads with torch's weights_only loader: the file cannot run code."""
    saved = read_policy(path)
    env = saved["env"]
    backfill_added_fields(saved["config"], config_fields(saved["algorithm"]))
    config = make_config(saved["algorithm"], saved["config"], source=f"policy file {path}")
    algo = make(saved["algorithm"], env["id"], config, device, env_kwargs=env["kwargs"],
                num_envs=num_envs or env["num_envs"])
    load_state_checked(algo, saved["state"], f"policy file {path}")
    return algo


def load_state_checked(algo: Algorithm, state: dict, source: str) -> None:
    """`algo.load_state_dict(state)`, with a state that does not fit (another algorithm, env or network size)
    reported as one MARLError instead of torch's shape errors."""
    try:
        algo.load_state_dict(state)
    except (KeyError, RuntimeError, ValueError, TypeError, IndexError, AttributeError) as err:
        raise MARLError("incompatible-checkpoint", f"{source} does not fit a {algo.algo_id} on '{algo.info.env_id}' "
                        f"with this config ({type(err).__name__}: {str(err).splitlines()[0][:200]})",
                        "was it saved by another algorithm, env or config?") from None


def load_run(run_dir: str | Path, device: str | torch.device = "cpu") -> tuple[RunSpec, Algorithm]:
    """The trained algorithm of a run directory written by `marl train` (its config and latest checkpoint)."""
    run_dir = Path(run_dir)
    spec = read_spec(run_dir, config_fields)
    payload = require_checkpoint(run_dir)
    config = make_config(spec.algo, spec.config, source=f"{run_dir}/config.yaml")
    algo = make(spec.algo, spec.env, config, device, env_kwargs=spec.env_kwargs, num_envs=spec.num_envs,
                seed=spec.seed)
    load_state_checked(algo, payload["algorithm"], f"{run_dir / CHECKPOINT}")
    return spec, algo


def load_policy_source(source: str) -> tuple[str, dict[str, Any], Algorithm]:
    """(env id, env kwargs, algorithm) from a policy file (`algo.save`) or a run directory (`marl train`):
    what single_agent and opponent_modeling load for `opponents=checkpoint:SOURCE`."""
    if Path(source).is_file():
        algo = load(source)
        return algo.info.env_id, dict(getattr(algo.envs, "env_kwargs", {}) or {}), algo
    spec, algo = load_run(source)
    return spec.env, spec.env_kwargs, algo
