"""The algorithms registry: id -> config class and implementation. A new algorithm is one file plus one line here."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from advisor.errors import AdvisorError, did_you_mean
from algorithms.base import Algorithm, AlgorithmConfig, apply_overrides, check_env_supported
from algorithms.core.vec_env import VecEnv
from algorithms.commnet import CommNet, CommNetConfig
from algorithms.maddpg import MADDPG, MADDPGConfig
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


ALGORITHMS: dict[str, AlgorithmEntry] = {
    "mappo": AlgorithmEntry("mappo", MAPPOConfig, MAPPO, "PPO, decentralised actors, centralised critic (Yu et al. 2022)"),
    "ippo": AlgorithmEntry("ippo", IPPOConfig, MAPPO, "PPO, decentralised actors, local critics (de Witt et al. 2020)"),
    "single_agent": AlgorithmEntry("single_agent", SingleAgentConfig, SingleAgent, "PPO for one learner; the other agents play fixed policies (random, scripted, checkpoint)"),
    "opponent_modeling": AlgorithmEntry("opponent_modeling", OpponentModelingConfig, OpponentModeling, "PPO learner conditioned on a learnt model of each opponent's action (DRON-concat style, He et al. 2016)"),
    "commnet": AlgorithmEntry("commnet", CommNetConfig, CommNet, "Agents average each other's hidden states, learnt end to end with PPO (Sukhbaatar et al. 2016)"),
    "maddpg": AlgorithmEntry("maddpg", MADDPGConfig, MADDPG, "DDPG actors, a centralised critic per agent or team (Lowe et al. 2017)"),
    "iql": AlgorithmEntry("iql", IQLConfig, ValueDecomposition, "Q-learning per agent on its own reward (Tan 1993; Tampuu et al. 2017)"),
    "vdn": AlgorithmEntry("vdn", VDNConfig, ValueDecomposition, "Team Q as the sum of agent utilities (Sunehag et al. 2018)"),
    "qmix": AlgorithmEntry("qmix", QMIXConfig, ValueDecomposition, "Monotonic state-conditioned mixing of utilities (Rashid et al. 2018)"),
    "qplex": AlgorithmEntry("qplex", QPLEXConfig, ValueDecomposition, "Duplex dueling mixing, full IGM class (Wang et al. 2021)"),
    "nash_q": AlgorithmEntry("nash_q", NashQConfig, NashQ, "Tabular joint-action Q-learning backing up stage-game Nash equilibria, two players (Hu & Wellman 2003)"),
    "self_play": AlgorithmEntry("self_play", SelfPlayConfig, SelfPlay, "PPO against itself and a pool of past selves, two-player zero-sum (Silver et al. 2018; Heinrich et al. 2015)"),
}


def get_entry(algo_id: str) -> AlgorithmEntry:
    if algo_id not in ALGORITHMS:
        raise AdvisorError("unknown-algorithm", f"unknown algorithm '{algo_id}'",
                           did_you_mean(algo_id, ALGORITHMS) or f"bundled: {', '.join(ALGORITHMS)}")
    return ALGORITHMS[algo_id]


def make_config(algo_id: str, overrides: dict[str, Any] | None = None, source: str = "--set") -> AlgorithmConfig:
    return apply_overrides(get_entry(algo_id).config_cls(), overrides or {}, source)


def make(algo_id: str, envs: VecEnv, config: AlgorithmConfig | None = None, device: str | torch.device = "cpu",
         **overrides: Any) -> Algorithm:
    """Build algorithm `algo_id` on batched `envs`, refusing environments it cannot handle."""
    entry = get_entry(algo_id)
    check_env_supported(entry.config_cls, algo_id, envs.info, ALGORITHMS)
    config = apply_overrides(config or entry.config_cls(), overrides)
    return entry.algorithm_cls(config, envs, torch.device(device))
