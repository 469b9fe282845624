"""Training and evaluation on top of the registry: run directories (Trainer), evaluation, competitive evaluation."""
