"""The configs of the PPO family: PPOConfig (the machinery every PPO learner here shares), MAPPO's and IPPO's.
The algorithm that reads them: algorithms/mappo.py."""
from __future__ import annotations

from dataclasses import dataclass

from algorithms.base import (AlgorithmConfig, require_choice, require_non_negative, require_positive,
                             require_unit_interval)
from algorithms.core.networks import ACTIVATIONS, CONV_ENCODER


@dataclass
class PPOConfig(AlgorithmConfig):
    """The PPO machinery every PPO learner here shares, with the defaults of Yu et al. 2022's published code
    (MPE settings) unless a field says otherwise. MAPPOConfig below overrides the fields that A/B runs on
    simple_spread improved (docs/defaults.md); single_agent, opponent_modeling, commnet and self_play build on
    this class, since their figures in docs/ were measured with these values."""

    action_spaces = frozenset({"discrete", "continuous", "multi_discrete"})
    reward_settings = frozenset({"cooperative", "mixed"})
    policy_type = "on-policy"
    needs_state = True

    rollout_steps: int = 50
    """Steps collected from every env copy before each update; 0: enough for `batch_steps` env steps over all
    copies, so the update schedule does not depend on the copy count."""
    batch_steps: int = 3200
    """With rollout_steps 0: env steps (summed over copies) per update, rounded up to a whole step of every copy."""
    centralised_critic: bool = True
    """Critic reads the global state (env.state(), else all observations); false gives IPPO's local critic."""
    share_parameters: bool = True
    """One actor and one critic for all agents (agent-id input tells them apart); false: weights per agent."""
    agent_id_input: bool = True
    """Append a one-hot agent id to actor and critic inputs."""
    hidden_size: int = 64
    """Width of every hidden layer (the paper: 64)."""
    layers: int = 2
    """Hidden layers in each MLP torso."""
    activation: str = "relu"
    """Hidden-layer activation: relu or tanh (orthogonal init gain sqrt(2) or 5/3 to match)."""
    layer_norm: bool = False
    """LayerNorm after every hidden layer (marlbenchmark/on-policy's MLP); the input LayerNorm is always on."""
    conv_encoder: str = "auto"
    """Image observations: auto (a CNN before the MLP when images are at least 16 pixels a side), on, or off."""
    recurrent: bool = False
    """Add a GRU after the MLP (rMAPPO). Deviation: off by default; the paper found MLP and GRU close on MPE and MLP is faster here."""
    lr: float = 7e-4
    """Actor learning rate (Adam)."""
    critic_lr: float = 7e-4
    """Critic learning rate (Adam)."""
    lr_anneal_steps: int = 0
    """Decay both learning rates linearly to 0 over this many env steps (0: constant, the paper's choice). Set it to the run's budget to end on ever smaller updates (as CleanRL's anneal_lr); on self-play tic-tac-toe it measured no gain (docs/self-play.md)."""
    adam_eps: float = 1e-5
    """Adam epsilon."""
    gamma: float = 0.99
    """Discount factor."""
    bootstrap_time_limit: bool = True
    """Bootstrap from the final observation's value when an episode is cut by its time limit (truncation);
    false treats the cut as terminal, as marlbenchmark/on-policy does on MPE."""
    gae_lambda: float = 0.95
    """GAE lambda (1: Monte-Carlo returns, 0: one-step TD)."""
    clip_eps: float = 0.2
    """PPO ratio clip, also used for value clipping."""
    value_clip: bool = True
    """Clip the new value around the old one (the paper keeps it on)."""
    huber_delta: float = 10.0
    """Huber loss delta for the critic; 0 uses the squared error."""
    value_norm: bool = True
    """Learn value targets in running-normalised units (the paper's ValueNorm)."""
    advantage_norm: bool = True
    """Normalise advantages over the batch."""
    entropy_coef: float = 0.01
    """Entropy bonus weight."""
    epochs: int = 10
    """Passes over each rollout (the paper: 10 on MPE)."""
    minibatches: int = 1
    """Minibatches per epoch (the paper: 1 on MPE)."""
    max_grad_norm: float = 10.0
    """Gradient-norm clip for actor and critic."""
    log_std_init: float = -0.5
    """Initial log standard deviation of Gaussian actions (continuous spaces; the std is learnt per dimension)."""

    def validate(self) -> None:
        require_positive(self, "batch_steps", "hidden_size", "layers", "lr", "critic_lr", "epochs",
                         "minibatches", "clip_eps")
        require_unit_interval(self, "gamma", "gae_lambda")
        require_choice(self, "activation", ACTIVATIONS)
        require_choice(self, "conv_encoder", CONV_ENCODER)
        require_non_negative(self, "lr_anneal_steps", "rollout_steps")


@dataclass
class MAPPOConfig(PPOConfig):
    """MAPPO: the PPO machinery with the deviations from the paper that A/B runs on simple_spread chose
    (docs/defaults.md)."""

    # 128 copies x 25 steps on batched MPE, as the paper; 16 x 200 on PettingZoo copies (no faster together).
    default_num_envs = (128, 16)

    rollout_steps: int = 0
    """Steps collected from every env copy before each update; 0 (default): enough for `batch_steps` env steps
    over all copies, so the update schedule does not depend on the copy count (the paper: 25 steps x 128 copies)."""
    activation: str = "tanh"
    """Hidden-layer activation: tanh or relu (orthogonal init gain 5/3 or sqrt(2) to match). Tanh: on simple_spread
    -12.1 against -14.4 per agent after 1M env steps (3 seeds, docs/defaults.md)."""
    gamma: float = 0.95
    """Discount factor. Deviation (the paper: 0.99): on 25-step MPE episodes 0.95 learnt faster on every A/B
    (docs/defaults.md)."""
    minibatches: int = 4
    """Minibatches per epoch. Deviation (the paper: 1 on MPE): 4 gives 4x the gradient steps for the same compute;
    on simple_spread -8.9 against -12.1 per agent after 1M env steps (docs/defaults.md)."""


@dataclass
class IPPOConfig(MAPPOConfig):
    """IPPO: MAPPO's machinery with each agent's critic reading only its own observation."""

    reward_settings = frozenset({"cooperative", "competitive", "mixed"})
    needs_state = False

    centralised_critic: bool = False
    """Off for IPPO: each critic sees only its own observation."""
