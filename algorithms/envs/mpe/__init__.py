"""Batched re-implementations of mpe2's particle environments (`--env batched:simple_spread_v3`).

K copies of a scenario live in one set of float64 NumPy arrays and step together, bit-identical to
mpe2 step by step (tests/test_batched_mpe.py copies mpe2's state in and compares whole episodes);
observations are float32 like mpe2's. `core.py` holds the physics and action decoding, one module per
scenario its reset, observations and rewards, `vec_env.py` the VecEnv, the PettingZoo view and seeding. Shipped: simple_spread_v3, simple_tag_v3, simple_adversary_v3,
simple_speaker_listener_v4, simple_reference_v3, simple_push_v3, simple_crypto_v3, each with mpe2's keyword arguments
(options that only change rendering are accepted; curriculum, partial observability and
benchmark_data are refused with a pointer to the mpe2: version).

core/env_registry.py lists `batched:` both as a native VecEnv (used by every trainer) and as a
PettingZoo ParallelEnv family (used by `marl inspect`).
"""
from algorithms.envs.mpe.vec_env import (SCENARIOS, BatchedMPEVecEnv, BatchedParallelEnv, parallel_factory,
                                         make_batched_vec_env, make_scenario)


__all__ = ["SCENARIOS", "BatchedMPEVecEnv", "BatchedParallelEnv", "make_batched_vec_env", "make_scenario",
           "parallel_factory"]
