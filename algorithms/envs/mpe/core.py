"""Batched MPE physics: K copies of an mpe2 world in one set of float64 arrays.

This is mpe2's `World.step` (mpe2/_mpe_utils/core.py) and `SimpleEnv._set_action`
(mpe2/_mpe_utils/simple_env.py) with a leading copy axis, written so that every floating-point
operation happens in the same order and precision as in mpe2. That is what makes the results
bit-identical, not merely close:

- discrete actions: `move = a % 5`, `comm = a // 5` for agents that both move and speak (the packing
  of simple_reference); `1/2` push -x/+x, `3/4` push -y/+y; times the agent's `accel` (default 5.0).
- continuous actions: `u = (a[2] - a[1], a[4] - a[3])` subtracted in float32 (the action dtype) before
  it becomes float64; the message is the float32 slice after the 5 movement entries.
- contact force between every pair of colliding entities:
  `contact_force * delta / dist * logaddexp(0, -(dist - dist_min) / margin) * margin`, a softplus that
  is never exactly zero, accumulated onto each entity in mpe2's pair order (ascending partner index).
- integration: position first (with the old velocity), then damping, then force, then the speed clamp.
- the communication state is set after the physics, zero for silent agents.

Arrays keep the copy axis last ([E, 2, K]: entity, coordinate, copy), so every NumPy loop runs over
the K copies rather than over 2 coordinates; entities are agents first, then landmarks (mpe2's
`world.entities` order). Landmarks never move in the shipped scenarios.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

DT = 0.1
DAMPING = 0.25
CONTACT_FORCE = 1e2
CONTACT_MARGIN = 1e-3
MOVE_DIM = 5  # dim_p * 2 + 1: no-op, -x, +x, -y, +y


@dataclass(frozen=True)
class Layout:
    """The static description of a world: what mpe2's make_world() sets on its entities."""

    n_agents: int
    n_landmarks: int
    size: np.ndarray        # [E] entity radius
    collide: np.ndarray     # [E] bool
    movable: np.ndarray     # [A] bool (landmarks are immovable)
    silent: np.ndarray      # [A] bool
    accel: np.ndarray       # [A] action sensitivity (mpe2: agent.accel, or 5.0 when None)
    max_speed: np.ndarray   # [A] speed clamp (inf when None)
    dim_c: int

    @staticmethod
    def build(n_agents: int, n_landmarks: int, agent_size, landmark_size, agent_collide, landmark_collide,
              dim_c: int, movable=True, silent=True, accel=None, max_speed=None) -> "Layout":
        def per_agent(value, default):
            value = default if value is None else value
            return np.broadcast_to(np.asarray(value, np.float64), (n_agents,)).copy()

        size = np.concatenate([per_agent(agent_size, 0.05),
                               np.broadcast_to(np.float64(landmark_size), (n_landmarks,))])
        collide = np.concatenate([np.broadcast_to(np.asarray(agent_collide, bool), (n_agents,)),
                                  np.broadcast_to(np.asarray(landmark_collide, bool), (n_landmarks,))])
        return Layout(n_agents, n_landmarks, size, collide,
                      np.broadcast_to(np.asarray(movable, bool), (n_agents,)).copy(),
                      np.broadcast_to(np.asarray(silent, bool), (n_agents,)).copy(),
                      per_agent(accel, 5.0), per_agent(max_speed, np.inf), dim_c)

    def action_size(self, i: int, continuous: bool) -> int:
        """mpe2's SimpleEnv action-space size for agent i."""
        if self.movable[i]:
            size = MOVE_DIM
        else:
            size = 0 if continuous else 1
        if not self.silent[i]:
            size = size + self.dim_c if continuous else size * self.dim_c
        return size


class World:
    """The mutable state of K copies: positions, velocities, messages, scenario goals, step counters."""

    def __init__(self, layout: Layout, num_envs: int, n_goals: int = 0):
        k, e, a = num_envs, layout.n_agents + layout.n_landmarks, layout.n_agents
        self.layout, self.num_envs = layout, num_envs
        self.pos = np.zeros((e, 2, k))           # [E, 2, K] agents then landmarks
        self.vel = np.zeros((e, 2, k))           # [E, 2, K] (landmarks stay zero)
        self.comm = np.zeros((a, layout.dim_c, k))  # [A, dim_c, K] agent.state.c
        self.goal = np.zeros((n_goals, k), np.int64)  # [G, K] scenario-specific goal indices
        self.steps = np.zeros(k, np.int64)       # [K] steps taken in the current episode
        colliders = np.flatnonzero(layout.collide)
        self._colliders = colliders
        self._moving_colliders = np.flatnonzero(layout.collide[:a] & layout.movable)  # agent ids
        self._rows = np.searchsorted(colliders, self._moving_colliders)  # their rows among the colliders
        size = layout.size[colliders]
        self._dist_min = (size[self._rows, None] + size[None, :])[..., None]   # [M, C, 1]
        self._self_pair = (np.arange(len(self._rows)), self._rows)
        self._clamp = bool(np.isfinite(layout.max_speed).any())
        self._talkers = np.flatnonzero(~layout.silent)

    @property
    def agent_pos(self) -> np.ndarray:
        return self.pos[: self.layout.n_agents]    # [A, 2, K]

    @property
    def landmark_pos(self) -> np.ndarray:
        return self.pos[self.layout.n_agents:]     # [L, 2, K]

    # ---- actions -------------------------------------------------------------------------------

    def decode(self, actions: np.ndarray, continuous: bool) -> tuple[np.ndarray, np.ndarray]:
        """Padded policy actions [K, A] or [K, A, D] -> (u [A, 2, K] float64 force, c [A, dim_c, K] message)."""
        lay = self.layout
        k, a = self.num_envs, lay.n_agents
        c = np.zeros((a, lay.dim_c, k))
        if continuous:
            act = np.asarray(actions, np.float32).transpose(1, 2, 0)  # [A, D, K]
            u = np.zeros((a, 2, k))
            if act.shape[1] >= MOVE_DIM:
                # Why float32: mpe2 receives float32 arrays and subtracts them before u (float64) sees them.
                u[:, 0] = act[:, 2] - act[:, 1]
                u[:, 1] = act[:, 4] - act[:, 3]
            for i in self._talkers:
                start = MOVE_DIM if lay.movable[i] else 0
                c[i] = act[i, start: start + lay.dim_c]
        else:
            act = np.asarray(actions).astype(np.int64).T  # [A, K]
            movable = lay.movable[:, None]
            move = np.where(movable, act % MOVE_DIM, 0)
            word = np.where(movable, act // MOVE_DIM, act)
            u = np.zeros((a, 2, k))
            u[:, 0] = (move == 2).astype(np.float64) - (move == 1)   # exactly -1.0, 0.0 or +1.0
            u[:, 1] = (move == 4).astype(np.float64) - (move == 3)
            for i in self._talkers:
                c[i] = np.eye(lay.dim_c)[:, word[i]]
        u *= lay.accel[:, None, None]
        u[~lay.movable] = 0.0
        return u, c

    # ---- physics -------------------------------------------------------------------------------

    def step(self, u: np.ndarray, c: np.ndarray) -> None:
        """mpe2 World.step for every copy: forces, integration, then the communication state."""
        lay = self.layout
        a = lay.n_agents
        force = u  # [A, 2, K]
        cols, mov = self._colliders, self._moving_colliders
        if len(cols) >= 2 and len(mov):
            rows = self._rows
            x, y = self.pos[cols, 0], self.pos[cols, 1]                    # [C, K]
            dx = x[rows, None] - x[None]                                     # [M, C, K]: p_i - p_j
            dy = y[rows, None] - y[None]
            dist = np.sqrt(dx * dx + dy * dy)
            arg = -(dist - self._dist_min) / CONTACT_MARGIN
            # logaddexp(0, arg) is exactly 0.0 once exp(arg) underflows (arg < -746), and it is slow there
            # (subnormal log1p): evaluate it only where it can be non-zero.
            soft = np.zeros_like(arg)
            np.logaddexp(0, arg, out=soft, where=arg > -746.0)
            with np.errstate(divide="ignore", invalid="ignore"):
                pen = soft * CONTACT_MARGIN
                fx = CONTACT_FORCE * dx / dist * pen
                fy = CONTACT_FORCE * dy / dist * pen
            sm, sc = self._self_pair      # an entity does not collide with itself (0/0 above)
            fx[sm, sc] = 0.0
            fy[sm, sc] = 0.0
            ax, ay = force[mov, 0], force[mov, 1]                            # [M, K]
            # mpe2 adds pair forces one partner at a time in entity order; the sum is order-sensitive.
            for j in range(len(cols)):
                ax = fx[:, j] + ax
                ay = fy[:, j] + ay
            force = force.copy()
            force[mov, 0] = ax
            force[mov, 1] = ay
        pos, vel = self.pos[:a], self.vel[:a]
        pos += vel * DT
        vel = vel * (1 - DAMPING)
        vel += force * DT  # force / mass (1.0) * dt; immovable agents have zero force and velocity
        if self._clamp:
            speed = np.sqrt(vel[:, 0] * vel[:, 0] + vel[:, 1] * vel[:, 1])   # [A, K]
            over = speed > lay.max_speed[:, None]
            if over.any():
                with np.errstate(divide="ignore", invalid="ignore"):
                    clamped = vel / speed[:, None] * lay.max_speed[:, None, None]
                vel = np.where(over[:, None], clamped, vel)
        self.vel[:a] = vel
        c[lay.silent] = 0.0
        self.comm = c
        self.steps += 1

    # ---- helpers for scenarios -----------------------------------------------------------------

    def clear(self, idx: np.ndarray) -> None:
        """Zero velocities, messages and step counters of the copies `idx` (the start of a reset)."""
        self.vel[..., idx] = 0.0
        self.comm[..., idx] = 0.0
        self.steps[idx] = 0

    def pick(self, goal: np.ndarray) -> np.ndarray:
        """[2, K] position of landmark goal[k] in each copy k."""
        return np.take_along_axis(self.landmark_pos, goal[None, None, :], axis=0)[0]

    def state_dict(self) -> dict:
        return {"pos": self.pos, "vel": self.vel, "comm": self.comm, "goal": self.goal, "steps": self.steps}

    def load_state_dict(self, state: dict) -> None:
        for key, value in state.items():
            setattr(self, key, np.array(value))


def dist(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """sqrt(sum(square(x - y))) over the coordinate axis (second to last), in mpe2's operation order."""
    d = x - y
    return np.sqrt(d[..., 0, :] * d[..., 0, :] + d[..., 1, :] * d[..., 1, :])


def others_index(n: int) -> np.ndarray:
    """[n, n-1]: for each agent, the other agents in order (mpe2's `[o for o in agents if o is not agent]`)."""
    return np.array([[j for j in range(n) if j != i] for i in range(n)], np.int64).reshape(n, n - 1)


def blend(global_reward: np.ndarray, agent_reward: np.ndarray, local_ratio: float | None) -> np.ndarray:
    """SimpleEnv's `global * (1 - local_ratio) + agent * local_ratio` ([K] and [N, K] -> [N, K])."""
    if local_ratio is None:
        return agent_reward
    return global_reward[None, :] * (1 - local_ratio) + agent_reward * local_ratio
