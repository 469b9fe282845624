"""Dynamics of Hu & Wellman's grid games: moves, edges, collisions, goals, the stochastic barriers."""
import numpy as np
import pytest

from algorithms.core.env_registry import make_env
from algorithms.core.env_registry import make_vec_env

UP, DOWN, LEFT, RIGHT = range(4)


def play(env, *joint):
    out = None
    for a0, a1 in joint:
        out = env.step({a: act for a, act in zip(list(env.agents), (a0, a1)) if a in env.agents})
    return out


def at(env, p0: int, p1: int) -> None:
    env.reset(seed=0)
    env.positions = [p0, p1]


def test_start_observation_is_the_one_hot_joint_position():
    env = make_env("grid:game1")
    obs, _ = env.reset(seed=0)
    assert env.positions == [0, 2] and env.state_index() == 2
    assert obs["agent_0"].shape == (81,) and obs["agent_0"].argmax() == 2 and obs["agent_0"].sum() == 1
    np.testing.assert_array_equal(obs["agent_1"], env.state())


def test_moves_edges_and_collisions():
    env = make_env("grid:game1")
    env.reset(seed=0)
    _, rewards, _, _, _ = play(env, (LEFT, DOWN))              # both push against the edge: stay, no cost
    assert env.positions == [0, 2] and rewards == {"agent_0": 0.0, "agent_1": 0.0}
    _, rewards, _, _, _ = play(env, (RIGHT, LEFT))             # both into cell 1: bounce back, -1 each
    assert env.positions == [0, 2] and rewards == {"agent_0": -1.0, "agent_1": -1.0}
    at(env, 0, 1)
    _, rewards, _, _, _ = play(env, (RIGHT, DOWN))             # into a cell whose agent stays: collision
    assert env.positions == [0, 1] and rewards["agent_0"] == -1.0
    at(env, 3, 4)
    _, rewards, _, _, _ = play(env, (RIGHT, LEFT))             # head-on swap: collision (our choice)
    assert env.positions == [3, 4] and rewards["agent_1"] == -1.0
    at(env, 0, 2)
    play(env, (UP, UP))                                         # no barriers in Grid Game 1
    assert env.positions == [3, 5]


def test_goals_end_the_episode_and_may_be_shared():
    env = make_env("grid:game1")
    at(env, 5, 3)
    _, rewards, terms, truncs, _ = play(env, (UP, UP))          # both reach their goals together
    assert rewards == {"agent_0": 100.0, "agent_1": 100.0} and all(terms.values()) and env.agents == []
    at(env, 5, 0)
    _, rewards, terms, _, _ = play(env, (UP, UP))               # first arrival ends it for both
    assert rewards == {"agent_0": 100.0, "agent_1": 0.0} and all(terms.values()) and not any(truncs.values())
    env2 = make_env("grid:game2")
    at(env2, 4, 8)
    _, rewards, terms, _, _ = play(env2, (UP, LEFT))            # the shared goal holds both: no collision
    assert env2.positions == [7, 7] and rewards == {"agent_0": 100.0, "agent_1": 100.0}


def test_ends_when_both_lets_the_other_agent_play_on():
    env = make_env("grid:game1", {"ends_when": "both"})
    at(env, 5, 0)
    _, rewards, terms, _, _ = play(env, (UP, UP))
    assert rewards == {"agent_0": 100.0, "agent_1": 0.0} and terms == {"agent_0": True, "agent_1": False}
    assert env.agents == ["agent_1"]
    _, rewards, terms, _, _ = env.step({"agent_1": UP})
    assert env.positions == [8, 6] and rewards == {"agent_1": 100.0} and env.agents == []


def test_truncation_after_max_cycles():
    env = make_env("grid:game2", {"max_cycles": 3})
    env.reset(seed=0)
    for _ in range(3):
        _, _, terms, truncs, _ = play(env, (LEFT, RIGHT))
    assert all(truncs.values()) and not any(terms.values()) and env.agents == []


def test_barriers_pass_half_of_the_time_and_only_upwards_from_the_start_cells():
    """2,000 tries each: the barrier above cell 0 (and cell 2) lets an agent through with frequency ~0.5
    (binomial sd 0.011, so 0.45-0.55 is over 4 sd); moving up from cell 1 always works."""
    env = make_env("grid:game2")
    env.reset(seed=123)
    passed = [0, 0]
    for _ in range(2000):
        env.reset()
        play(env, (UP, UP))
        passed[0] += env.positions[0] == 3
        passed[1] += env.positions[1] == 5
    assert 0.45 < passed[0] / 2000 < 0.55 and 0.45 < passed[1] / 2000 < 0.55
    at(env, 1, 2)
    play(env, (UP, LEFT))
    assert env.positions[0] == 4
    assert make_env("grid:game2", {"barrier_pass": 1.0}).barrier_pass == 1.0


def test_vectorised_and_seeded():
    def trajectory(seed):
        envs = make_vec_env("grid:game2", num_envs=2)
        envs.reset(seed=seed)
        return [envs.step(np.full((2, 2), UP)).state.argmax(-1).tolist() for _ in range(6)]
    assert trajectory(1) == trajectory(1)
    assert trajectory(1) != trajectory(2)


def test_bad_keywords_are_refused():
    from algorithms.errors import MARLError
    with pytest.raises(MARLError, match="barrier_pass"):
        make_env("grid:game2", {"barrier_pass": 2.0})
    with pytest.raises(MARLError, match="ends_when"):
        make_env("grid:game1", {"ends_when": "never"})
    with pytest.raises(MARLError, match="did you mean 'game"):
        make_env("grid:game")
