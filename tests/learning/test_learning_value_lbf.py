"""VDN with its shipped defaults (the parallel schedule, 64 copies) on Level-Based Foraging 8x8-2p-2f-coop, where
both agents must load each food together.

Measured before writing the assertion (benchmarks/value_time_to_target.py, 2026-12-08; 64 deterministic episodes,
seed 999; team return = the sum over agents, 1 = every food eaten): at 101k env steps 0.711 / 0.750 / 0.695 on
seeds 0 / 1 / 2 (about 30 s of training), at 202k 0.977 / 0.938 / 0.961. Random play collects 0.006 on 8x8
(docs/defaults.md) and doing nothing collects nothing (food is only eaten by loading it). The test runs 100k on seed 0 and asks for a team return
of 0.5 above random play and doing nothing on the same episodes (the worst seed clears it by 0.19)."""
import pytest
import torch

BUDGET = 100_000
ENV = "lbforaging:Foraging-8x8-2p-2f-coop-v3"


@pytest.mark.slow
def test_vdn_defaults_collect_the_food_on_lbf():
    pytest.importorskip("lbforaging")
    from algorithms import make
    from algorithms.training.evaluate import evaluate
    from algorithms.value_config import VDNConfig

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as measured
    try:
        algo = make("vdn", ENV, seed=0)
        assert algo.config == VDNConfig() and algo.envs.num_envs == 64  # the shipped defaults, nothing overridden
        algo.learn(BUDGET)
        result = evaluate(algo, ENV, {}, episodes=64, deterministic=True, seed=999, references=True)
    finally:
        torch.set_num_threads(threads)
    team = 2 * result["return_mean"]
    assert team > 2 * result["references"]["random"]["mean"] + 0.5, result
    assert team > 0.5, result  # doing nothing loads no food: a team return of 0
