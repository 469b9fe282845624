"""MARL Advisor's learning library.

    import algorithms
    algo = algorithms.make("mappo", "mpe2:simple_spread_v3", num_envs=16, seed=0, lr=5e-4)
    algo.learn(200_000)
    algo.save("spread.pt")
    algo = algorithms.load("spread.pt")
    actions = algo.predict(observations)   # dict agent -> action for one PettingZoo env

Layers (each imports only the ones above it): errors; core/ and envs/ (tensors, networks, the batched env
interface, the env registry); the algorithm families (base.py, mappo.py, ...); registry.py (ids, make, load);
training/ (run directories, evaluation); then the advisor and the CLI. docs/architecture.md has the map.
"""
from algorithms.core.policy_file import library_version
from algorithms.errors import MARLError
from algorithms.registry import ALGORITHMS, AlgorithmEntry, get_entry, load, make, make_config

__version__ = library_version()
__all__ = ["ALGORITHMS", "AlgorithmEntry", "MARLError", "get_entry", "load", "make", "make_config", "__version__"]
