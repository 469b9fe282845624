"""Built-in environments: PettingZoo-API games (matrix_games, context_rps, grid_games, scripted opponents) and
natively batched MPE (mpe/). Nothing registers itself on import: core/env_registry.py lists them."""
