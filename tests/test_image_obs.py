"""Image observations: the CNN encoder chosen from the observation space, and the obs_* preprocessing options."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import algorithms
from algorithms.base import Algorithm
from algorithms.core.env_registry import make_env, make_vec_env
from algorithms.core.networks import ConvEncoder
from algorithms.errors import MARLError

SIDE = "tests.fixtures.envs:side_image_env"


def test_image_observations_are_described_with_their_shape_and_scale():
    info = make_vec_env(SIDE, {}, 1).info
    assert info.obs_image == (20, 20, 3) and info.image_scale == pytest.approx(1 / 255)
    assert info.state_image == (2, 20, 20, 3)  # no state(): the agents' images, concatenated
    assert make_vec_env("mpe2:simple_spread_v3", {}, 1).info.obs_image == ()


def encoders(algo) -> list[torch.nn.Module]:
    """Every ConvEncoder in the algorithm's networks (one level into a wrapped learner, as self-play's)."""
    found = []
    for value in vars(algo).values():
        nets = [value] if isinstance(value, torch.nn.Module) else \
            [v for v in vars(value).values() if isinstance(v, torch.nn.Module)] if isinstance(value, Algorithm) else []
        found += [m for net in nets for m in net.modules() if isinstance(m, ConvEncoder)]
    return found


@pytest.mark.parametrize("algo_id,small", [("mappo", {"batch_steps": 32}), ("ippo", {"batch_steps": 32}),
                                           ("commnet", {"batch_steps": 32}), ("qmix", {"batch_size": 2}),
                                           ("vdn", {"batch_size": 2})])
def test_every_family_with_shared_networks_puts_a_cnn_before_the_mlp(algo_id, small):
    algo = algorithms.make(algo_id, SIDE, num_envs=2, seed=0, **small)
    assert encoders(algo), f"{algo_id} has no ConvEncoder"
    algo.learn(64)  # and it trains


def test_small_boards_keep_the_mlp_and_conv_encoder_can_force_or_refuse():
    ttt = algorithms.make("self_play", "pettingzoo.classic:tictactoe_v3", num_envs=1, seed=0)
    assert not encoders(ttt)
    assert not encoders(algorithms.make("mappo", SIDE, num_envs=1, seed=0, conv_encoder="off"))
    with pytest.raises(MARLError, match="not images"):
        algorithms.make("mappo", "mpe2:simple_spread_v3", num_envs=1, seed=0, conv_encoder="on")


def test_resize_grayscale_and_frame_stack_options():
    env = make_env(SIDE, {"obs_resize": "10x12", "obs_grayscale": True, "obs_frame_stack": 3})
    assert env.observation_space("agent_0").shape == (10, 12, 3)
    obs, _ = env.reset(seed=0)
    first = obs["agent_0"]
    assert first.dtype == np.uint8 and np.array_equal(first[..., 0], first[..., 2])  # the first frame, repeated
    obs, *_ = env.step({"agent_0": 0, "agent_1": 0})
    assert np.array_equal(obs["agent_0"][..., 1], first[..., 2])  # frames shift by one
    info = make_vec_env(SIDE, {"obs_resize": "16x16", "obs_frame_stack": 2}, 1).info
    assert info.obs_image == (16, 16, 6)


@pytest.mark.parametrize("bad", [{"obs_resize": "big"}, {"obs_grayscale": "yes"}, {"obs_frame_stack": 0}])
def test_bad_image_options_are_clear_errors(bad):
    with pytest.raises(MARLError) as caught:
        make_env(SIDE, bad)
    assert caught.value.code == "bad-env-kwarg"


def test_image_options_on_an_env_without_images_are_refused():
    with pytest.raises(MARLError, match="does not observe images"):
        make_env("mpe2:simple_spread_v3", {"obs_resize": "8x8"})


def test_pistonball_builds_with_preprocessing():
    pytest.importorskip("pymunk")  # pettingzoo[butterfly]: pistonball_v6 needs it
    envs = make_vec_env("pettingzoo.butterfly:pistonball_v6", {"obs_resize": "64x16", "obs_grayscale": True,
                                                                "continuous": False}, 1)
    assert envs.info.n_agents == 20 and envs.info.obs_image == (64, 16, 1)
    assert envs.info.state_image[1:] == (64, 16, 1)  # state() resized the same way
    step = envs.step(np.zeros((1, 20), np.int64)) if envs.reset(seed=0) is not None else None
    assert step.obs.shape == (1, 20, 64 * 16)


def test_uint8_pixels_stay_uint8_until_the_network():
    envs = make_vec_env(SIDE, {}, 2)
    step = envs.reset(seed=0)
    assert step.obs.dtype == np.uint8 and step.obs.max() == 255
    assert make_vec_env("mpe2:simple_spread_v3", {}, 1).reset(seed=0).obs.dtype == np.float32
    algo = algorithms.make("qmix", SIDE, num_envs=2, seed=0, batch_size=2, schedule="replay")
    algo.learn(64)
    assert algo.replay.sample(2)["obs"].dtype == np.uint8  # the replay holds a quarter of float32's bytes


@pytest.mark.parametrize("algo_id", sorted(algorithms.ALGORITHMS))
def test_every_algorithm_trains_on_images_or_refuses_clearly(algo_id):
    small = {"batch_steps": 32} if "batch_steps" in algorithms.registry.config_fields(algo_id) else {}
    try:
        algo = algorithms.make(algo_id, SIDE, num_envs=2, seed=0, **small)
    except MARLError:
        return  # a capability refusal (this env is a cooperative two-agent game), with its message
    algo.learn(64)
    actions, _ = algo.act(algo.envs.reset(seed=1), algo.initial_memory(2), True)
    assert np.asarray(actions).shape[:2] == (2, 2)


@pytest.mark.parametrize("algo_id, settings", [("maddpg", {}), ("qmix", {"schedule": "replay"})])
def test_buffers_that_cannot_fit_in_memory_are_refused_up_front(algo_id, settings):
    pytest.importorskip("pymunk")  # pettingzoo[butterfly]: pistonball_v6 needs it
    # pistonball_v6 unresized: 20 agents x 457 x 120 x 3 pixels; a default-sized replay would need terabytes.
    with pytest.raises(MARLError) as caught:
        algorithms.make(algo_id, "pettingzoo.butterfly:pistonball_v6", env_kwargs={"continuous": False},
                        num_envs=1, seed=0, **settings)
    assert caught.value.code == "too-large" and "obs_resize" in caught.value.hint
