"""The configs of the value-based learners (IQL, VDN, QMIX, QPLEX): one base and one subclass per algorithm.
The learner that reads them: algorithms/value_decomposition.py."""
from __future__ import annotations

from dataclasses import dataclass

from algorithms.base import (AlgorithmConfig, require_choice, require_non_negative, require_positive,
                             require_unit_interval)
from algorithms.core.networks import ACTIVATIONS, CONV_ENCODER
from algorithms.errors import MARLError

MIXERS = ("none", "vdn", "qmix", "qplex")
SCHEDULES = ("parallel", "replay")


@dataclass
class ValueDecompositionConfig(AlgorithmConfig):
    """Defaults: PQN's parallel schedule with JaxMARL's PQN-VDN settings for MPE (Gallici et al. 2024), chosen by
    measurement on simple_spread and LBF (docs/defaults.md); `--config examples/value_replay.yaml` restores the
    replay recipe (EPyMARL's QMIX settings, Papoudakis et al. 2021, with the deviations measured there)."""

    action_spaces = frozenset({"discrete", "multi_discrete"})  # factorised: flattened (core/action_spaces.py)
    reward_settings = frozenset({"cooperative"})
    policy_type = "off-policy"
    needs_state = True
    default_num_envs = (128, 64)  # the parallel schedule learns from many copies at once (docs/defaults.md)

    mixer: str = "qmix"
    """How utilities combine: none (IQL, each agent its own reward), vdn (sum), qmix (monotonic), qplex (duplex dueling)."""
    schedule: str = "parallel"
    """parallel: PQN (Gallici et al. 2024), each collection's transitions from every copy trained on for `epochs`
    passes of `minibatches` steps, TD(lambda) targets over the rollout from the network as it was when collection
    ended, then dropped (no replay, no target network). replay: EPyMARL's schedule, episodes in a replay buffer, a
    target network, `batch_size`-episode gradient steps. Measured in docs/defaults.md."""
    rollout_steps: int = 25
    """Steps taken on every env copy between updates."""
    epochs: int = 4
    """parallel: passes over each collection's transitions."""
    minibatches: int = 16
    """parallel: gradient steps per pass (each on 1/minibatches of the collection's transitions)."""
    updates_per_iteration: int = 0
    """replay: gradient steps after each collection (each on `batch_size` episodes). 0: one per episode (or
    `max_episode_len` chunk) stored by that collection, EPyMARL's schedule whatever the copy count."""
    batch_size: int = 32
    """replay: episodes per gradient step; updates start once the buffer holds this many."""
    buffer_size: int = 5000
    """replay: episodes kept in replay; the oldest is evicted first."""
    recency_half_life: float = 0.0
    """replay: 0 samples uniformly (default); else an episode's sampling weight halves every this many newer ones."""
    max_episode_len: int = 200
    """replay: longer (or endless) episodes are stored as chunks of this many steps."""
    hidden_size: int = 256
    """Width of the agent network's hidden layers (JaxMARL's PQN-VDN: 256; EPyMARL: 64)."""
    layers: int = 2
    """Hidden layers of the agent MLP (before the optional GRU)."""
    activation: str = "relu"
    """Hidden-layer activation of the agent network: relu or tanh."""
    layer_norm: bool = True
    """A LayerNorm after every hidden layer of the agent network (PQN's regulariser in place of a target network)."""
    conv_encoder: str = "auto"
    """Image observations: auto (a CNN before the MLP when images are at least 16 pixels a side), on, or off."""
    recurrent: bool = False
    """Add a GRU over the episode (the paper's DRQN agent). Deviation: off by default, MPE is fully observed and MLPs are faster."""
    share_parameters: bool = True
    """One agent network for all agents (agent-id input tells them apart); false: weights per agent."""
    agent_id_input: bool = True
    """Append a one-hot agent id to the agent network's input."""
    mixing_embed: int = 32
    """Width of QMIX's mixing layer (the paper: 32). QPLEX's weights have no embedding (per-agent sigmoids)."""
    hypernet_hidden: int = 64
    """Hidden width of the hypernetworks that read the state (the paper: 64)."""
    qplex_heads: int = 4
    """Attention heads of QPLEX's lambda weights (the paper: 4)."""
    mixer_state_norm: bool = False
    """QMIX and QPLEX: read the state through a LayerNorm before the hypernetworks, as MAPPO's critic reads its
    inputs (not for a one-feature state, which it would make constant). Off here, as in the papers and EPyMARL."""
    lr: float = 5e-4
    """Adam learning rate (EPyMARL and JaxMARL's PQN-VDN: 5e-4)."""
    gamma: float = 0.9
    """Discount factor (JaxMARL's PQN-VDN on MPE: 0.9; EPyMARL: 0.99; the replay recipe: 0.95, docs/defaults.md)."""
    td_lambda: float = 0.3
    """0: one-step TD targets; in (0, 1]: TD(lambda) returns over the stored episode (replay) or the rollout
    (parallel)."""
    double_q: bool = True
    """Pick next actions with the online network, evaluate them with the target network (van Hasselt et al. 2016)."""
    target_update_interval: int = 200
    """replay: copy the online networks into the targets every this many gradient steps (when tau = 0)."""
    tau: float = 0.0
    """replay: if > 0, soft target updates target += tau (online - target) after every gradient step instead."""
    epsilon_start: float = 1.0
    """Exploration rate at the start of training (epsilon-greedy)."""
    epsilon_finish: float = 0.1
    """Exploration rate after annealing (JaxMARL's PQN-VDN: 0.1; EPyMARL: 0.05)."""
    epsilon_anneal_steps: int = 200_000
    """Env steps (summed over copies) over which epsilon falls linearly from start to finish."""
    max_grad_norm: float = 1.0
    """Gradient-norm clip (JaxMARL's PQN-VDN: 1; EPyMARL: 10)."""
    standardise_rewards: bool = True
    """Standardise rewards with their running mean and standard deviation before computing targets (EPyMARL's MPE
    setting). On simple_spread QMIX at 100k env steps: -21.0 per agent with it, -25.0 without (docs/defaults.md)."""
    reward_mean_shift: bool = True
    """With standardise_rewards: subtract the running mean as well (EPyMARL). False divides by the std only (as MF-Q
    does). Where episodes end at varying lengths (LBF) the shift acts as a per-step cost or bonus; where they all
    run to a time limit and bootstrap (MPE) it changes no greedy action. A/B on LBF: docs/defaults.md."""

    def validate(self) -> None:
        require_positive(self, "rollout_steps", "epochs", "minibatches", "batch_size", "buffer_size",
                         "max_episode_len", "hidden_size", "layers", "mixing_embed", "hypernet_hidden",
                         "qplex_heads", "lr", "target_update_interval", "max_grad_norm")
        require_choice(self, "activation", ACTIVATIONS)
        require_choice(self, "conv_encoder", CONV_ENCODER)
        require_choice(self, "mixer", MIXERS)
        require_choice(self, "schedule", SCHEDULES)
        if self.schedule == "parallel" and self.recurrent:
            raise MARLError("bad-config-value", "recurrent=true needs schedule=replay: the parallel schedule trains "
                            "on shuffled single transitions, which carry no GRU state")
        require_unit_interval(self, "gamma", "td_lambda", "tau", "epsilon_start", "epsilon_finish")
        require_non_negative(self, "recency_half_life", "epsilon_anneal_steps", "updates_per_iteration")


@dataclass
class QMIXConfig(ValueDecompositionConfig):
    """QMIX: the base defaults, with a LayerNorm on the state and (replay schedule) slower target refreshes."""

    target_update_interval: int = 1000
    """replay: copy the online networks into the targets every this many gradient steps (when tau = 0). Deviation
    (EPyMARL: 200): with 200 QMIX's TD loss climbs and the policy drifts back to -24 per agent on simple_spread
    by 1.2M env steps; with 1000 the mixer and its target stop feeding each other and it keeps improving
    (-15.95 at 1M, -13.26 at 2M, 3 seeds; docs/defaults.md). It starts slower (-22.9 against -20.4 at 100k)."""
    mixer_state_norm: bool = True
    """Deviation (the paper and EPyMARL read the raw state): a LayerNorm on the state before the hypernetworks.
    On LBF 8x8-2p-2f-coop at 200k env steps, team return 0.205 / 0.555 against 0.015 / 0.030 without (seeds 0, 1);
    on simple_spread -12.04 at 500k and -10.44 at 1M per agent against -17.08 and -14.10 without (3 seeds;
    docs/defaults.md)."""


@dataclass
class QPLEXConfig(ValueDecompositionConfig):
    """QPLEX: duplex dueling mixer."""

    mixer: str = "qplex"
    """Duplex dueling mixer with attention lambda weights."""


@dataclass
class VDNConfig(ValueDecompositionConfig):
    """VDN: the team value is the sum of utilities, so no global state is needed."""

    needs_state = False

    mixer: str = "vdn"
    """Additive mixer."""


@dataclass
class IQLConfig(ValueDecompositionConfig):
    """IQL: each agent learns its own Q from its own observation and reward (any reward setting)."""

    reward_settings = frozenset({"cooperative", "competitive", "mixed"})
    needs_state = False

    mixer: str = "none"
    """No mixer: agent i's TD error uses only agent i's observations, actions and rewards."""
