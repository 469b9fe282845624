"""The built-in matrix games follow the PettingZoo API (what learners find on them: tests/learning/)."""
import pytest

from algorithms.core.env_registry import make_env
from algorithms.envs.matrix_games import CLIMBING, NONMONOTONIC, penalty_payoff


def test_games_follow_the_parallel_api_with_shared_reward_and_state():
    for name, payoff in (("nonmonotonic", NONMONOTONIC), ("climbing", CLIMBING), ("penalty", penalty_payoff(-100))):
        env = make_env(f"matrix:{name}")
        obs, _ = env.reset(seed=0)
        assert env.agents == ["agent_0", "agent_1"] and set(obs) == set(env.agents)
        assert env.state().shape == (1,) and env.action_space("agent_1").n == 3
        for a0 in range(3):
            for a1 in range(3):
                env.reset()
                _, rewards, terms, truncs, _ = env.step({"agent_0": a0, "agent_1": a1})
                assert rewards == {"agent_0": payoff[a0][a1], "agent_1": payoff[a0][a1]}
                assert all(terms.values()) and not any(truncs.values()) and env.agents == []
    assert make_env("matrix:penalty", {"k": -10}).payoff[0, 2] == -10


def test_unknown_game_names_a_close_match():
    from algorithms.errors import MARLError
    with pytest.raises(MARLError, match="did you mean 'climbing'"):
        make_env("matrix:climbin")
