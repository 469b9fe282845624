"""Opponent modelling: a PPO learner with a supervised model of each opponent's next action, whose
predicted distribution is part of the policy's input.

The design follows DRON-concat with its multitask supervision (He, Boyd-Graber, Kwok & Daumé III 2016,
"Opponent Modeling in Deep Reinforcement Learning", ICML): the agent's network sees a representation
of the opponent concatenated with its own state features, and that representation can be supervised
by the opponent's observed actions. Two deliberate differences, and why:

- the learner is PPO, not DQN, so it shares this package's tested on-policy machinery (single_agent.py)
  and handles action masks and turn-based games the same way; an actor-critic with an opponent-policy
  prediction head is also what Hernandez-Leal, Kartal & Taylor 2019 ("Agent Modeling as Auxiliary Task
  for Deep Reinforcement Learning", AIIDE; AMF-A3C) use;
- the opponent representation is the model's predicted action distribution itself (one softmax per
  opponent), trained only by cross-entropy on the actions the opponents actually took. It is detached
  from the policy: the policy gradient never reshapes the model, so `opponent_model/accuracy` measures a
  pure predictor, and the policy learns how to use a prediction rather than to invent one.

The model reads the learner's own observation (what it can observe), so it predicts "what the opponent
does in the situation I see". In turn-based games it is trained only on the steps where that opponent
actually moved (`active`); on the learner's own turns it is evaluated on the current position, i.e. it
predicts the opponent's reply tendencies, which is what the learner's move has to anticipate.
Opponents are fixed policies (algorithms/core/opponents.py). Discrete actions only.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from algorithms.base import require_positive
from algorithms.core.tensors import to_tensor
from algorithms.mappo import MAPPO, Actor
from algorithms.single_agent import LearnerSeat, SingleAgent, SingleAgentConfig


@dataclass
class OpponentModelingConfig(SingleAgentConfig):
    """single_agent's PPO learner plus an opponent model whose prediction conditions the policy."""

    action_spaces = frozenset({"discrete"})
    reward_settings = frozenset({"competitive", "mixed"})
    policy_type = "on-policy"
    needs_state = False

    model_hidden: int = 64
    """Width of the opponent model's two hidden layers."""
    model_lr: float = 1e-3
    """Adam learning rate of the opponent model."""
    model_epochs: int = 10
    """Full-batch cross-entropy steps on each rollout's observed opponent actions."""

    def validate(self) -> None:
        super().validate()
        require_positive(self, "model_hidden", "model_lr", "model_epochs")


class OpponentModel(nn.Module):
    """Observation [..., obs_dim] -> logits [..., M, A] of each of M opponents' next action.
    A plain MLP (no input LayerNorm): classic-game observations can be a single integer code."""

    def __init__(self, obs_dim: int, hidden: int, size_mask: torch.Tensor):
        super().__init__()
        self.register_buffer("size_mask", size_mask)  # [M, A]: actions each opponent really has (padding)
        m, a = size_mask.shape
        self.net = nn.Sequential(nn.Linear(obs_dim, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
                                 nn.Linear(hidden, m * a))

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        logits = self.net(obs.float()).unflatten(-1, tuple(self.size_mask.shape))
        return logits.masked_fill(~self.size_mask, torch.finfo(logits.dtype).min)


class ModelledPPO(MAPPO):
    """MAPPO on the learner's seat (a LearnerSeat) whose actor also reads the opponent model's prediction."""

    config: OpponentModelingConfig
    envs: LearnerSeat

    def __init__(self, config: OpponentModelingConfig, seat: LearnerSeat, device: torch.device):
        super().__init__(config, seat, device)
        full, seats = seat.inner.info, seat.opponents.seats
        real = np.arange(full.action_dim)[None, :] < np.asarray(full.action_sizes)[seats][:, None]  # [M, A]
        size_mask = to_tensor(real, device)
        self.model = OpponentModel(full.obs_dim, config.model_hidden, size_mask).to(device)
        self.model_opt = torch.optim.Adam(self.model.parameters(), lr=config.model_lr)
        # MAPPO sized the actor for the observation alone; widen it for the M x A predicted probabilities.
        in_features = full.obs_dim + (1 if config.agent_id_input else 0) + size_mask.numel()
        self.actor = Actor(in_features, config, self.info.action_dim, False, 1).to(device)
        self.actor_opt = torch.optim.Adam(self.actor.parameters(), lr=config.lr, eps=config.adam_eps)

    def predict(self, obs: torch.Tensor) -> torch.Tensor:
        """Predicted opponent action probabilities, obs [..., 1, obs_dim] -> [..., 1, M * A]."""
        return torch.softmax(self.model(obs), dim=-1).flatten(-2)

    def _actor_in(self, obs: torch.Tensor, alive: torch.Tensor | None = None) -> torch.Tensor:
        with torch.no_grad():  # detached: only cross-entropy trains the model (see the module docstring)
            probs = self.predict(obs)
        return torch.cat([super()._actor_in(obs, alive), probs], dim=-1)

    def update(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        """PPO on the rollout first (with the model that chose its actions), then the model's update."""
        stats = super().update(batch)
        return {**stats, **self._update_model(batch["obs"][:, :, 0])}

    def _update_model(self, obs: torch.Tensor) -> dict[str, float]:  # obs [T, K, obs_dim]
        # The seat recorded, for every step of this rollout, what each opponent did and whether it moved.
        target = to_tensor(np.stack([a for a, _ in self.envs.trace]), self.device)   # [T, K, M]
        acted = to_tensor(np.stack([m for _, m in self.envs.trace]), self.device)    # [T, K, M]
        if not acted.any():
            return {"opponent_model/accuracy": float("nan"), "opponent_model/loss": float("nan")}
        with torch.no_grad():  # accuracy of the model that played this rollout, before it trains on it
            hits = (self.model(obs).argmax(-1) == target) & acted
            accuracy = hits.sum().item() / acted.sum().item()
        for _ in range(self.config.model_epochs):
            logits = self.model(obs)
            nll = F.cross_entropy(logits.flatten(0, -2), target.flatten(), reduction="none").view_as(target)
            loss = nll[acted].mean()
            self.model_opt.zero_grad()
            loss.backward()
            self.model_opt.step()
        return {"opponent_model/accuracy": accuracy, "opponent_model/loss": loss.item()}

    def state_dict(self) -> dict:
        return {**super().state_dict(), "model": self.model.state_dict(), "model_opt": self.model_opt.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        super().load_state_dict(state)
        self.model.load_state_dict(state["model"])
        self.model_opt.load_state_dict(state["model_opt"])


class OpponentModeling(SingleAgent):
    """single_agent with the modelled learner in the seat."""

    config: OpponentModelingConfig
    learner_cls = ModelledPPO
