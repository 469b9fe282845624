"""What every algorithm shares: the batched env interface and registry, buffers, networks, GAE, logging, checkpoints."""
