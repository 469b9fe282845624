"""The batched MPE backend (`batched:NAME`) against mpe2 itself.

Equivalence: reset mpe2 copies with seeds, copy their full state (positions, velocities, messages, goal
landmarks) into one batched world, drive both with the same random actions for whole episodes and
require float64 observations (before the float32 cast), float64 rewards and the done flags to be
exactly equal, for every shipped scenario, discrete and continuous. Then the VecEnv layer against
PettingZooVecEnv (Step by Step, including padding, `finished` and final observations), auto-reset,
seeding, snapshots, errors and `marl inspect`.
"""
from __future__ import annotations

import numpy as np
import pytest

from algorithms.errors import MARLError
from algorithms.core.env_registry import make_env
from algorithms.core.env_registry import make_vec_env
from algorithms.envs.mpe import BatchedMPEVecEnv, BatchedParallelEnv
from algorithms.envs.mpe.vec_env import Simulator, make_scenario

CASES = [  # (scenario, mpe2 keyword arguments) – defaults plus larger variants that stress contacts
    ("simple_spread_v3", {}),
    ("simple_spread_v3", {"N": 6, "local_ratio": 0.3, "max_cycles": 40}),
    ("simple_tag_v3", {}),
    ("simple_tag_v3", {"num_good": 2, "num_adversaries": 4, "num_obstacles": 3}),
    ("simple_tag_v3", {"num_adversaries": 1, "num_obstacles": 0}),
    ("simple_adversary_v3", {"N": 3}),
    ("simple_speaker_listener_v4", {}),
    ("simple_reference_v3", {"local_ratio": 0.25}),
    ("simple_push_v3", {}),
    ("simple_crypto_v3", {}),
    ("simple_crypto_v3", {"max_cycles": 40}),
]
SEEDS = 10  # mpe2 copies (seeds) per case; each runs one whole episode


def _goals(name: str, raw) -> list[int]:
    """The goal landmark indices our World.goal holds, read off mpe2's agents."""
    world = raw.world
    index = lambda lm: next(i for i, x in enumerate(world.landmarks) if x is lm)  # noqa: E731
    if name in ("simple_adversary_v3", "simple_push_v3"):
        return [index(world.agents[0].goal_a)]
    if name == "simple_speaker_listener_v4":
        return [index(world.agents[0].goal_b)]
    if name == "simple_reference_v3":
        return [index(world.agents[0].goal_b), index(world.agents[1].goal_b)]
    if name == "simple_crypto_v3":  # alice's key is the colour array of a landmark, the same object
        return [index(world.agents[0].goal_a),
                next(i for i, x in enumerate(world.landmarks) if x.color is world.agents[2].key)]
    return []


def _copy_state(name: str, raw, sim: Simulator, k: int) -> None:
    """mpe2's state -> copy k of the batched world."""
    w = sim.world
    for e, entity in enumerate(raw.world.entities):
        w.pos[e, :, k] = entity.state.p_pos
        w.vel[e, :, k] = entity.state.p_vel
    for i, agent in enumerate(raw.world.agents):
        w.comm[i, :, k] = agent.state.c
    w.goal[:, k] = _goals(name, raw)
    w.steps[k] = raw.steps


def _random_actions(rng, sizes, continuous, k):
    width = max(sizes)
    if continuous:
        return rng.uniform(0, 1, (k, len(sizes), width)).astype(np.float32)
    return np.stack([rng.integers(s, size=k) for s in sizes], axis=1)


@pytest.mark.parametrize("continuous", [False, True], ids=["discrete", "continuous"])
@pytest.mark.parametrize("name,kwargs", CASES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(CASES)])
def test_bit_identical_to_mpe2(name, kwargs, continuous):
    kwargs = {**kwargs, "continuous_actions": continuous}
    envs = [make_env(f"mpe2:{name}", kwargs, checked=False) for _ in range(SEEDS)]
    sim = Simulator(make_scenario(name, kwargs), SEEDS)
    for k, env in enumerate(envs):
        env.reset(seed=1000 + k)
        _copy_state(name, env.aec_env, sim, k)
    agents = envs[0].possible_agents
    rng = np.random.default_rng(len(name) * 100 + len(kwargs) + continuous)

    def mpe2_obs():  # [per agent] [K, obs_i] float64, straight from the scenario (before the cast)
        return [np.stack([e.aec_env.scenario.observation(e.aec_env.world.agents[i], e.aec_env.world)
                          for e in envs]) for i in range(len(agents))]

    for ours, theirs in zip(sim.observations64(), mpe2_obs()):
        assert np.array_equal(ours, theirs)
    for t in range(sim.scenario.max_cycles):
        actions = _random_actions(rng, sim.action_sizes, continuous, SEEDS)
        rewards, terminated, truncated = sim.step(actions)
        for k, env in enumerate(envs):
            act = {a: (actions[k, i, : sim.action_sizes[i]] if continuous else int(actions[k, i]))
                   for i, a in enumerate(agents)}
            _, rew, term, trunc, _ = env.step(act)
            assert np.array_equal(rewards[k], [rew[a] for a in agents]), (t, k)
            assert all(term[a] == terminated[k] and trunc[a] == truncated[k] for a in agents), (t, k)
        for i, (ours, theirs) in enumerate(zip(sim.observations64(), mpe2_obs())):
            assert ours.dtype == np.float64
            # Why float32 is allowed: with continuous actions mpe2 stores a message as the float32 action
            # slice (`action.c + 0.0` stays float32), and simple_crypto's eve observes nothing but alice's
            # message, so mpe2's eve observation is float32. Ours holds the same values exactly in float64.
            float32_ok = continuous and name == "simple_crypto_v3" and agents[i] == "eve_0"
            assert theirs.dtype == np.float64 or (float32_ok and theirs.dtype == np.float32), (t, agents[i])
            assert np.array_equal(ours, theirs), (t, agents[i], np.abs(ours - theirs).max())
    assert truncated.all() and not any(env.agents for env in envs)


@pytest.mark.parametrize("name", ["simple_spread_v3", "simple_tag_v3"])
def test_terminate_on_success_matches_mpe2(name):
    """Put every agent on a landmark / every prey under an adversary: both end the episode alike."""
    kwargs = {"terminate_on_success": True}
    env = make_env(f"mpe2:{name}", kwargs, checked=False)
    env.reset(seed=5)
    raw = env.aec_env
    agents, landmarks = raw.world.agents, raw.world.landmarks
    if name == "simple_spread_v3":
        for a, lm in zip(agents, landmarks):
            a.state.p_pos = lm.state.p_pos + 0.01
    else:
        agents[-1].state.p_pos = agents[0].state.p_pos + 0.05
    sim = Simulator(make_scenario(name, kwargs), 1)
    _copy_state(name, raw, sim, 0)
    rewards, terminated, truncated = sim.step(np.zeros((1, len(agents)), int))
    _, rew, term, trunc, _ = env.step({a: 0 for a in env.possible_agents})
    assert terminated[0] and not truncated[0]
    assert all(term.values()) and not any(trunc.values())
    assert np.array_equal(rewards[0], [rew[a] for a in env.possible_agents])


SCENARIOS = ["simple_spread_v3", "simple_tag_v3", "simple_adversary_v3", "simple_speaker_listener_v4",
             "simple_reference_v3", "simple_push_v3", "simple_crypto_v3"]


@pytest.mark.parametrize("continuous", [False, True], ids=["discrete", "continuous"])
@pytest.mark.parametrize("name", SCENARIOS)
def test_vec_env_with_mpe2_seeding_repeats_pettingzoo_vec_env(name, continuous):
    """seeding="mpe2": every Step field (padding, masks, final obs, finished returns) equals what
    PettingZooVecEnv gives for mpe2 with the same seed, across several auto-resets."""
    kwargs, k = {"continuous_actions": continuous, "max_cycles": 6}, 3
    ref = make_vec_env(f"mpe2:{name}", kwargs, k)
    ours = BatchedMPEVecEnv(name, kwargs, k, seeding="mpe2")
    assert {f: v for f, v in vars(ours.info).items() if f != "env_id"}.keys() == vars(ref.info).keys() - {"env_id"}
    for f, v in vars(ref.info).items():  # obs_spaces: only the PettingZoo adapter checks rows against spaces
        assert f in ("env_id", "obs_spaces") or np.array_equal(v, getattr(ours.info, f)), f
    sa, sb = ref.reset(seed=7), ours.reset(seed=7)
    assert np.array_equal(sa.obs, sb.obs) and np.array_equal(sa.state, sb.state)
    rng = np.random.default_rng(0)
    for t in range(14):
        actions = _random_actions(rng, ours.info.action_sizes, continuous, k)
        sa, sb = ref.step(actions), ours.step(actions)
        for field in ("obs", "state", "reward", "terminated", "truncated", "episode_end", "final_obs",
                      "final_state", "action_mask", "active", "alive"):
            x, y = getattr(sa, field), getattr(sb, field)
            assert x.dtype == y.dtype and np.array_equal(x, y), (t, field)
        assert [(c, n) for c, _, n in sa.finished] == [(c, n) for c, _, n in sb.finished]
        for (_, ra, _), (_, rb, _) in zip(sa.finished, sb.finished):
            assert ra.dtype == rb.dtype and np.array_equal(ra, rb)
    assert sb.finished == [] and ours.length.tolist() == [2, 2, 2]


def _rollout(env, steps, seed, continuous=False):
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(steps):
        step = env.step(_random_actions(rng, env.info.action_sizes, continuous, env.num_envs))
        out.append((step.obs, step.reward, step.episode_end, [(c, r.tolist(), n) for c, r, n in step.finished]))
    return out


def _same(xs, ys) -> bool:
    return all(np.array_equal(a, b) for x, y in zip(xs, ys) for a, b in zip(x[:3], y[:3])) and \
        [x[3] for x in xs] == [y[3] for y in ys]


def test_seeding_is_reproducible_and_copies_differ():
    make = lambda: make_vec_env("batched:simple_tag_v3", {"max_cycles": 7}, 4)  # noqa: E731
    a, b, c = make(), make(), make()
    first = a.reset(seed=3)
    assert np.array_equal(first.obs, b.reset(seed=3).obs)
    assert not np.array_equal(first.obs, c.reset(seed=4).obs)
    assert len({first.obs[k].tobytes() for k in range(4)}) == 4  # copies start in different states
    ra, rb = _rollout(a, 30, 0), _rollout(b, 30, 0)  # crosses four auto-resets
    assert _same(ra, rb)


def test_auto_reset_keeps_copies_independent():
    """Copies that end early are reset alone: the others continue exactly as in an untouched run."""
    a = make_vec_env("batched:simple_spread_v3", {"max_cycles": 25}, 4)
    b = make_vec_env("batched:simple_spread_v3", {"max_cycles": 25}, 4)
    a.reset(seed=1), b.reset(seed=1)
    a.sim.world.steps[:] = [20, 0, 15, 0]  # copies 0 and 2 end after 5 and 10 steps
    rng = np.random.default_rng(0)
    for t in range(12):
        actions = rng.integers(5, size=(4, 3))
        sa, sb = a.step(actions), b.step(actions)
        assert np.array_equal(sa.episode_end, [t == 4, False, t == 9, False])
        assert np.array_equal(sa.obs[[1, 3]], sb.obs[[1, 3]]) and np.array_equal(sa.reward[[1, 3]], sb.reward[[1, 3]])
        if t == 4:
            assert [(c, n) for c, _, n in sa.finished] == [(0, 5)]
            assert np.array_equal(sa.final_obs[0], sb.obs[0]) and not np.array_equal(sa.obs[0], sb.obs[0])
            assert np.allclose(sa.obs[0, :, :2], 0)  # a fresh episode starts at rest
    assert a.length.tolist() == [7, 12, 2, 12]


@pytest.mark.parametrize("seeding", ["batch", "mpe2"])
def test_snapshot_restore_continues_exactly(seeding):
    env = BatchedMPEVecEnv("simple_reference_v3", {"max_cycles": 9}, 3, seeding=seeding)
    env.reset(seed=2)
    _rollout(env, 13, 0)
    blob = env.snapshot()
    after = _rollout(env, 20, 1)
    other = BatchedMPEVecEnv("simple_reference_v3", {"max_cycles": 9}, 3, seeding=seeding)
    other.reset(seed=99)
    other.restore(blob)
    assert _same(after, _rollout(other, 20, 1))


def test_bad_input_is_reported():
    with pytest.raises(MARLError) as err:
        make_vec_env("batched:simple_sprad_v3", {}, 2)
    assert err.value.code == "unknown-env" and "simple_spread_v3" in err.value.hint
    for kwargs in ({"n": 3}, {"N": 0}, {"local_ratio": 2}, {"curriculum": True}, {"num_agent_neighbors": 2}):
        with pytest.raises(MARLError) as err:
            make_vec_env("batched:simple_spread_v3", kwargs, 2)
        assert err.value.code == "bad-env-kwarg", kwargs
    with pytest.raises(MARLError) as err:
        make_vec_env("batched:simple_spread_v3", {}, 1, render_mode="rgb_array")
    assert err.value.code == "no-render" and "mpe2:simple_spread_v3" in err.value.hint
    with pytest.raises(MARLError) as err:
        make_env("batched:simple_tag_v2")
    assert err.value.code == "unknown-env"


def test_parallel_view_and_inspect_report_what_mpe2_reports():
    from advisor.inspect import inspect_env

    env = make_env("batched:simple_adversary_v3", {"continuous_actions": True})
    ref = make_env("mpe2:simple_adversary_v3", {"continuous_actions": True})
    assert isinstance(env, BatchedParallelEnv)
    obs, _ = env.reset(seed=0)
    ref_obs, _ = ref.reset(seed=0)
    assert env.possible_agents == ref.possible_agents
    assert all(np.array_equal(obs[a], ref_obs[a]) for a in env.possible_agents)  # seeded like mpe2
    for a in env.possible_agents:
        assert str(env.observation_space(a)) == str(ref.observation_space(a))
        assert str(env.action_space(a)) == str(ref.action_space(a))
        assert obs[a].dtype == np.float32 and obs[a].shape == env.observation_space(a).shape
    assert env.state().shape == ref.state().shape
    for name in ("simple_spread_v3", "simple_speaker_listener_v4", "simple_crypto_v3"):
        ours, theirs = inspect_env(f"batched:{name}"), inspect_env(f"mpe2:{name}")
        assert ours.facts == theirs.facts, name
        assert ours.evidence["spaces"] == theirs.evidence["spaces"]
        assert ours.evidence["state"] == theirs.evidence["state"]
