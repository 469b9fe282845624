"""A policy that must read pixels learns: IPPO with the CNN encoder on the side-of-the-square image task."""
from __future__ import annotations

import algorithms
from algorithms.training.evaluate import evaluate

SIDE = "tests.fixtures.envs:side_image_env"


def test_ippo_learns_to_read_the_image():
    # Random play earns 0.5 a step (4 per 8-step episode); naming the square's side every step earns 8.
    algo = algorithms.make("ippo", SIDE, num_envs=8, seed=0, batch_steps=256, lr=1e-3, critic_lr=1e-3)
    algo.learn(6_000)
    result = evaluate(algo, SIDE, {}, episodes=32, deterministic=True, seed=5, references=True)
    random_play = result["references"]["random"]["mean"]
    assert result["return_mean"] > random_play + 2.0, (result["return_mean"], random_play)
