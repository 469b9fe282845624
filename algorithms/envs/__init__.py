"""Built-in PettingZoo-API games. Importing this package registers them in env_factory.BUILTIN_ENVS."""
from algorithms.envs import matrix_games  # noqa: F401  registers `matrix:*`
from algorithms.envs import context_rps  # noqa: F401  registers `matrix:context_rps` (after matrix_games)
from algorithms.envs import grid_games  # noqa: F401  registers `grid:*`
from algorithms.envs import mpe  # noqa: F401  registers `batched:*` (native batched MPE)
