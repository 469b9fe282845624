"""The batched PettingZoo layer: shapes, padding of unequal agents, masks, truncation, turn-based games."""
import numpy as np
import pytest

from algorithms.errors import MARLError
from algorithms.core.env_registry import make_vec_env
from tests.helpers import SPREAD, SPREAD_KWARGS


def test_spread_shapes_state_and_truncation_bootstrap_obs():
    envs = make_vec_env(SPREAD, SPREAD_KWARGS, num_envs=3)
    info = envs.info
    assert (info.n_agents, info.obs_dim, info.action_kind, info.action_dim) == (3, 18, "discrete", 5)
    assert info.state_source == "env.state()" and info.state_dim == 54
    step = envs.reset(seed=0)
    assert step.obs.shape == (3, 3, 18) and step.state.shape == (3, 54) and step.action_mask.all()
    first_obs = step.obs.copy()
    for t in range(25):
        step = envs.step(np.zeros((3, 3), np.int64))
    # max_cycles=25: every copy truncates at the 25th step, is reset, and keeps the final observation.
    assert step.episode_end.all() and step.truncated.all() and not step.terminated.any()
    assert len(step.finished) == 3 and all(length == 25 for _, _, length in step.finished)
    assert not np.allclose(step.final_obs, step.obs)  # obs already belongs to the next episode
    assert not np.allclose(step.obs, first_obs)       # new episodes, new positions (unseeded reset)


def test_same_seed_same_observations():
    a = make_vec_env(SPREAD, SPREAD_KWARGS, num_envs=2).reset(seed=7)
    b = make_vec_env(SPREAD, SPREAD_KWARGS, num_envs=2).reset(seed=7)
    np.testing.assert_array_equal(a.obs, b.obs)
    assert not np.array_equal(a.obs[0], a.obs[1])  # copies get different seeds


def test_unequal_agents_are_padded_with_masks():
    envs = make_vec_env("mpe2:simple_adversary_v3", {}, num_envs=2)
    info = envs.info
    assert info.obs_sizes == (8, 10, 10) and info.obs_dim == 10
    step = envs.reset(seed=0)
    assert np.all(step.obs[:, 0, 8:] == 0.0)  # the adversary's shorter observation is zero-padded
    sl = make_vec_env("mpe2:simple_speaker_listener_v4", {}, num_envs=1)
    assert sl.info.action_sizes == (3, 5) and sl.info.action_dim == 5
    mask = sl.reset(seed=0).action_mask
    assert mask[0, 0].tolist() == [True, True, True, False, False]  # padded choices are forbidden
    assert mask[0, 1].all()


def test_continuous_actions_and_padding_of_action_dims():
    envs = make_vec_env("mpe2:simple_speaker_listener_v4", {"continuous_actions": True}, num_envs=1)
    info = envs.info
    assert info.action_kind == "continuous" and info.action_sizes == (3, 5)
    assert info.act_dim_mask.tolist() == [[True, True, True, False, False], [True] * 5]
    envs.reset(seed=0)
    step = envs.step(np.full((1, 2, 5), 0.5, np.float32))  # the speaker's 2 padded dims are dropped
    assert step.reward.shape == (1, 2)


def test_turn_based_game_has_one_active_agent_and_action_masks():
    envs = make_vec_env("pettingzoo.classic:tictactoe_v3", {}, num_envs=2)
    assert envs.info.turn_based and envs.info.has_action_mask and envs.info.state_source == "concatenated observations"
    step = envs.reset(seed=0)
    assert step.active.sum(axis=1).tolist() == [1, 1] and step.alive.all()
    rng = np.random.default_rng(0)
    finished = 0
    for _ in range(200):
        actions = np.array([[rng.choice(np.flatnonzero(m)) if m.any() else 0 for m in row] for row in step.action_mask])
        step = envs.step(actions)
        assert (step.active.sum(axis=1) == 1).all()
        for _, returns, _ in step.finished:
            assert returns.sum() == 0.0 and set(returns.tolist()) <= {-1.0, 0.0, 1.0}  # zero-sum outcome
            finished += 1
    assert finished > 10


def test_bad_env_ids_give_clear_errors():
    with pytest.raises(MARLError, match="did you mean 'simple_spread_v3'"):
        make_vec_env("mpe2:simple_sprad_v3")
    with pytest.raises(MARLError, match="not of the form"):
        make_vec_env("simple_spread_v3")
    with pytest.raises(MARLError, match="no module named 'nosuchpackage'"):
        make_vec_env("nosuchpackage:env")
    with pytest.raises(MARLError, match="takes no keyword argument 'bogus'"):
        make_vec_env(SPREAD, {"bogus": 1})


def test_agents_that_leave_early_are_masked_until_the_episode_ends():
    envs = make_vec_env("tests.fixtures.envs:early_exit_env", {}, num_envs=1)
    step = envs.reset(seed=0)
    assert step.alive.all() and envs.info.state_source == "concatenated observations"
    alive, terminated = [], []
    for _ in range(5):
        step = envs.step(np.zeros((1, 3), np.int64))
        alive.append(step.alive[0].tolist())
        terminated.append(step.terminated[0].tolist())
    assert terminated[1] == [False, True, False]            # runner_1 terminates on its 2nd step...
    assert [a[1] for a in alive[1:4]] == [False, False, False]  # ...and is masked out from then on
    assert step.episode_end[0] and step.truncated[0].tolist() == [True, False, True]
    assert step.alive[0].all()                               # the next episode has everyone back
    (copy, returns, length), = step.finished
    assert returns.tolist() == [5.0, 2.0, 5.0] and length == 5


@pytest.mark.parametrize("reversed_dicts", [False, True])
def test_rows_follow_agents_whatever_the_dict_order(reversed_dicts):
    envs = make_vec_env("tests.fixtures.envs:early_exit_env", {"reversed_dicts": reversed_dicts}, num_envs=1)
    envs.reset(seed=0)
    for t in range(1, 4):
        step = envs.step(np.zeros((1, 3), np.int64))
        obs, reward = step.obs[0], step.reward[0]
        assert obs[0].tolist() == pytest.approx([t / 10, 0]) and obs[2].tolist() == pytest.approx([t / 10, 2])
        if t <= 2:  # runner_1 still reported (its last step is t = 2)
            assert obs[1].tolist() == pytest.approx([t / 10, 1]) and reward.tolist() == [1, 1, 1]
            assert step.terminated[0].tolist() == [False, t == 2, False]
        else:  # gone: a zero row, no reward, masked
            assert obs[1].tolist() == [0, 0] and reward.tolist() == [1, 0, 1]
            assert step.alive[0].tolist() == [True, False, True]


def test_mappo_trains_with_an_agent_leaving_early():
    """runner_1 terminates on the 2nd step of each 5-step episode (rows 1 and 6 of a 10-step rollout) and is out
    for rows 2-4 and 7-9: its rows there stay out of the losses, and GAE stops at its exit."""
    import torch

    from algorithms import make

    def collect(dead_value_offset=0.0):
        torch.manual_seed(0)
        envs = make_vec_env("tests.fixtures.envs:early_exit_env", {}, num_envs=2)
        algo = make("mappo", envs, rollout_steps=10, epochs=1)
        if dead_value_offset:  # the critic says something wild wherever an agent is out
            value = algo._value
            algo._value = lambda obs, state, h, alive=None: (
                lambda v, h2: (v + dead_value_offset * (~alive).float() if alive is not None else v, h2))(
                *value(obs, state, h, alive))
        algo.begin(envs.reset(seed=0))
        return algo, algo.collect()[0]

    algo, batch = collect()
    dead = ~batch["alive"]
    gone = torch.tensor([False, False, True, True, True] * 2)
    assert torch.equal(dead[:, :, 1], gone[:, None].expand(10, 2)) and not dead[:, :, [0, 2]].any()
    assert torch.equal(batch["active"], batch["alive"])
    # Its last live step (terminated) does not bootstrap: advantage = reward - value, nothing from later rows.
    values = algo._denorm(batch["value"])
    for last in (1, 6):
        assert batch["terminated"][last, :, 1].all()
        torch.testing.assert_close(batch["advantage"][last, :, 1], batch["reward"][last, :, 1] - values[last, :, 1])
    # The critic's values where it is out change no advantage of a live row (the others' included).
    _, wild = collect(dead_value_offset=1e3)
    assert not torch.allclose(wild["value"][dead], batch["value"][dead])
    torch.testing.assert_close(wild["advantage"][~dead], batch["advantage"][~dead])
    torch.testing.assert_close(wild["return"][~dead], batch["return"][~dead])
    # Garbage in its rows after the exit changes neither the losses nor the update.
    garbage = {k: v.clone() if torch.is_tensor(v) else v for k, v in batch.items()}
    garbage["obs"][dead[..., None].expand_as(garbage["obs"])] += 3.0
    garbage["action"][dead] = 1 - garbage["action"][dead]
    for key in ("log_prob", "value", "advantage", "return"):
        garbage[key][dead] += 100.0

    def update(b):
        torch.manual_seed(0)
        learner, _ = collect()
        losses = learner.update(b)
        return losses, [p.detach().clone() for p in (*learner.actor.parameters(), *learner.critic.parameters())]
    (clean_losses, clean_params), (garbage_losses, garbage_params) = update(batch), update(garbage)
    assert clean_losses == pytest.approx(garbage_losses, rel=1e-6, abs=1e-9)
    assert all(torch.allclose(a, b, atol=1e-7) for a, b in zip(clean_params, garbage_params))
    assert all(np.isfinite(v) for v in clean_losses.values())


@pytest.mark.parametrize("env_id", ["mpe2:simple_spread_v3", "mpe2:simple_adversary_v3", "mpe2:simple_tag_v3"])
def test_mpe_state_taken_from_observations_equals_env_state(env_id):
    """The adapter reuses the step's observations as mpe2's state(); it must be bit-identical."""
    envs = make_vec_env(env_id, {}, num_envs=2)
    assert all(c.state_from_obs for c in envs.copies)
    step = envs.reset(seed=4)
    rng = np.random.default_rng(0)
    for _ in range(30):
        for k, copy in enumerate(envs.copies):
            np.testing.assert_array_equal(step.state[k], np.asarray(copy.env.state(), np.float32))
        step = envs.step(rng.integers(0, 5, (2, envs.info.n_agents)))
