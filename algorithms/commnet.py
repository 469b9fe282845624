"""CommNet: agents talk through a learnt, differentiable channel (Sukhbaatar et al. 2016,
"Learning Multiagent Communication with Backpropagation"), trained with PPO on MAPPO's on-policy loop.

Every agent encodes its own observation (and agent id) into a hidden state h0 (optionally through a GRU
over time). Then, for each of `comm_steps` communication steps k, agent j receives the mean of the
other agents' hidden states, c_k = mean_{j' != j, alive} h_k[j'], and updates
    h_{k+1}[j] = h_k[j] + ReLU(H_k h_k[j] + C_k c_k[j])
with H_k, C_k shared by all agents (so the module is permutation equivariant). The policy head reads
the final state. The critic is a second CommNet of the same shape giving each agent its own value from
its observation plus messages (no global state), so `comm_steps=0` is exactly IPPO with the same networks:
the ablation removes CommNet's channel from actor and critic, and nothing else.

Agents no longer in the episode (the Step's `alive` mask) send nothing; an agent with no live peer
receives zeros. MAPPO hands `alive` to its torso-input hooks (`_actor_in`, `_critic_in`) in acting, collecting
and updating; CommNet's append it as the last column its torso reads.
Read top to bottom: config, the communication module, the algorithm. What the agents say: training/commnet_messages.py.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from algorithms.errors import MARLError
from algorithms.core.networks import AgentLinear, ImageLayout, Torso
from algorithms.core.vec_env import VecEnv
from algorithms.mappo import MAPPO, PPOConfig


@dataclass
class CommNetConfig(PPOConfig):
    """CommNet on MAPPO's PPO machinery; every PPO field keeps PPOConfig's default and meaning (the settings the
    CommNet figures (docs/commnet.md) were measured with; not re-tuned with MAPPO's newer defaults)."""

    action_spaces = frozenset({"discrete", "continuous", "multi_discrete"})
    reward_settings = frozenset({"cooperative"})
    policy_type = "on-policy"
    needs_state = False

    comm_steps: int = 2
    """Communication rounds per env step (the paper: 2); 0 removes the channel (the ablation: IPPO)."""
    centralised_critic: bool = False
    """False: each agent's value comes from a communicating CommNet critic; true: MAPPO's critic on the global state."""

    def validate(self) -> None:
        super().validate()
        if self.comm_steps < 0:
            raise MARLError("bad-config-value", f"'comm_steps' must be 0 or more, got {self.comm_steps}")
        if not self.share_parameters:
            raise MARLError("bad-config-value", "CommNet shares its parameters across agents",
                               "leave share_parameters=true; the agent-id input tells agents apart")


# ---------------------------------------------------------------------------------------------------
# The communication module: inputs [..., N, features + 1], the last column being the alive flag


def mean_of_others(h: torch.Tensor, alive: torch.Tensor) -> torch.Tensor:
    """c[j] = mean of h[j'] over live agents j' != j; zeros when j has no live peer. h [..., N, H], alive [..., N]."""
    a = alive.unsqueeze(-1).to(h.dtype)
    total = (h * a).sum(dim=-2, keepdim=True) - h * a   # every live agent's state but one's own
    count = a.sum(dim=-2, keepdim=True) - a
    return total / count.clamp(min=1.0)


class CommNetTorso(nn.Module):
    """Encoder (MLP, optional GRU across time) then `comm_steps` rounds of mean-of-others messages.
    Same interface as core.networks.Torso, so MAPPO's actor and critic can hold it."""

    def __init__(self, in_features: int, hidden: int, layers: int, recurrent: bool, comm_steps: int,
                 image: ImageLayout | None = None):
        super().__init__()
        self.encoder = Torso(in_features, hidden, layers, None, recurrent, image=image)
        self.own = nn.ModuleList(AgentLinear(hidden, hidden, None) for _ in range(comm_steps))
        self.heard = nn.ModuleList(AgentLinear(hidden, hidden, None) for _ in range(comm_steps))
        self.hidden = hidden

    def communicate(self, h: torch.Tensor, alive: torch.Tensor, record: list | None = None) -> torch.Tensor:
        """h [..., N, H] -> h after every round; `record` collects (sent, received) per round."""
        for own, heard in zip(self.own, self.heard):
            c = mean_of_others(h, alive)
            if record is not None:
                record.append((h, c))
            h = h + torch.relu(own(h) + heard(c))  # residual: comm_steps=0 and >0 start on the same scale
        return h

    def forward(self, x: torch.Tensor, h: torch.Tensor | None, record: list | None = None):
        features, h = self.encoder(x[..., :-1], h)
        return self.communicate(features, x[..., -1] > 0.5, record), h

    def forward_sequence(self, x: torch.Tensor, h0: torch.Tensor | None, starts: torch.Tensor) -> torch.Tensor:
        features = self.encoder.forward_sequence(x[..., :-1], h0, starts)  # [T, B, N, H]
        return self.communicate(features, x[..., -1] > 0.5)


# ---------------------------------------------------------------------------------------------------
# The algorithm: MAPPO with both torsos replaced by CommNet torsos


class CommNet(MAPPO):
    config: CommNetConfig

    def __init__(self, config: CommNetConfig, envs: VecEnv, device: torch.device):
        super().__init__(config, envs, device)
        info, cfg = self.info, config
        in_features = info.obs_dim + (info.n_agents if cfg.agent_id_input else 0)
        self.actor.torso = CommNetTorso(in_features, cfg.hidden_size, cfg.layers, cfg.recurrent,
                                        cfg.comm_steps, self.obs_image).to(device)
        if not cfg.centralised_critic:
            self.critic.torso = CommNetTorso(in_features, cfg.hidden_size, cfg.layers, cfg.recurrent,
                                             cfg.comm_steps, self.obs_image).to(device)
        # The torsos changed after MAPPO built its optimisers: build them again over the new parameters.
        self.actor_opt = torch.optim.Adam(self.actor.parameters(), lr=cfg.lr, eps=cfg.adam_eps)
        self.critic_opt = torch.optim.Adam(self.critic.parameters(), lr=cfg.critic_lr, eps=cfg.adam_eps)

    def _actor_in(self, obs: torch.Tensor, alive: torch.Tensor | None = None) -> torch.Tensor:
        """[..., N, obs + id + alive]: CommNetTorso reads the alive flag from the last column (None: everyone).
        Unlike MAPPO's, each agent's action then depends on the others' observations through the channel."""
        flag = torch.ones_like(obs[..., :1]) if alive is None else alive.to(obs.dtype).unsqueeze(-1)
        return torch.cat([self._with_id(obs), flag], dim=-1)

    def _critic_in(self, obs: torch.Tensor, state: torch.Tensor, alive: torch.Tensor | None = None) -> torch.Tensor:
        if self.config.centralised_critic:
            return super()._critic_in(obs, state, alive)
        return self._actor_in(obs, alive)
