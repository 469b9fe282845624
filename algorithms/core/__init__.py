"""What every algorithm shares: environments, buffers, networks, GAE, logging, checkpoints, evaluation."""
