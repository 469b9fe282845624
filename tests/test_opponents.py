"""Fixed opponents (algorithms/core/opponents.py): spec parsing, random moves, scripted functions, checkpoints."""
import numpy as np
import pytest

from algorithms.errors import MARLError
from algorithms.core.opponents import Opponents, load_function, parse_opponent_spec
from algorithms.training.run import RunSpec, Trainer
from algorithms.core.env_registry import make_vec_env
from algorithms.registry import load_policy_source

RPS, TTT = "pettingzoo.classic:rps_v2", "pettingzoo.classic:tictactoe_v3"
SCRIPTED = "algorithms.envs.scripted"


# Heuristics the tests pass by name (tests/ is a package, so `tests.test_opponents:NAME` imports).
def always_99(obs, action_mask, agent, rng):
    return 99


def crashes(obs, action_mask, agent, rng):
    raise KeyError("no such square")


NOT_A_FUNCTION = 3


@pytest.mark.parametrize("spec, parsed", [
    ("random", ("random", "")),
    (" random ", ("random", "")),
    ("checkpoint:runs/a b", ("checkpoint", "runs/a b")),
    (f"{SCRIPTED}:first_legal", ("scripted", f"{SCRIPTED}:first_legal")),
])
def test_specs_parse(spec, parsed):
    assert parse_opponent_spec(spec) == parsed


@pytest.mark.parametrize("spec, needle", [
    ("randm", "did you mean 'random'"), ("", "unknown opponent spec"), ("checkpoint:", "needs a run directory"),
    ("my module:fn", "unknown opponent spec"), ("mod:", "unknown opponent spec"),
])
def test_bad_specs_are_clear_errors(spec, needle):
    with pytest.raises(MARLError, match=needle) as err:
        parse_opponent_spec(spec)
    assert err.value.code == "bad-opponent-spec" and err.value.hint


@pytest.mark.parametrize("spec, needle", [
    ("no_such_package_xyz:fn", "cannot import module"),
    (f"{SCRIPTED}:rps_rock6", "did you mean 'rps_rock60'"),
    ("tests.test_opponents:NOT_A_FUNCTION", "not a function"),
])
def test_bad_functions_are_clear_errors(spec, needle):
    with pytest.raises(MARLError) as err:
        load_function(spec)
    assert err.value.code == "bad-opponent" and needle in str(err.value)


def _play(env_id, spec, steps=300, seed=0, **kwargs):
    """Both seats played by `spec`; yields each step and the actions chosen for it."""
    envs = make_vec_env(env_id, kwargs, num_envs=4)
    opponents = Opponents(spec, envs.info, list(range(envs.info.n_agents)), seed)
    step = envs.reset(seed=seed)
    for _ in range(steps):
        actions = opponents.act(step)
        yield envs.info, step, actions
        step = envs.step(actions)


@pytest.mark.parametrize("spec", ["random", f"{SCRIPTED}:first_legal", f"{SCRIPTED}:uniform"])
def test_moves_are_legal_on_a_masked_turn_based_game(spec):
    moves = 0
    for _, step, actions in _play(TTT, spec):
        k, i = np.nonzero(step.active)
        assert step.action_mask[k, i, actions[k, i]].all()  # the seat to move always picks a legal square
        moves += len(k)
    assert moves == 4 * 300


def test_random_is_uniform_and_seeded():
    draws = np.concatenate([a.ravel() for _, _, a in _play(RPS, "random", steps=500)])
    assert np.allclose(np.bincount(draws, minlength=3) / draws.size, 1 / 3, atol=0.03)
    again = np.concatenate([a.ravel() for _, _, a in _play(RPS, "random", steps=500)])
    assert np.array_equal(draws, again)


def test_random_continuous_actions_fill_the_box():
    for info, _, actions in _play("mpe2:simple_adversary_v3", "random", steps=20, continuous_actions=True):
        low, high = info.action_low[None], info.action_high[None]  # [1, N, D]
        assert actions.shape == (4, 3, 5) and np.all(actions >= low) and np.all(actions <= high)


def test_scripted_bias_is_what_the_docstring_says():
    draws = np.concatenate([a.ravel() for _, _, a in _play(RPS, f"{SCRIPTED}:rps_rock60", steps=500)])
    assert abs(np.mean(draws == 0) - 0.6) < 0.03


@pytest.mark.parametrize("fn, code", [("always_99", "bad-opponent-action"), ("crashes", "opponent-failed")])
def test_bad_scripted_output_is_an_error_naming_the_function(fn, code):
    with pytest.raises(MARLError) as err:
        list(_play(TTT, f"tests.test_opponents:{fn}", steps=3))
    assert err.value.code == code and fn in err.value.message


def _train_run(tmp_path, name, env, steps=200):
    spec = RunSpec("single_agent", env, {}, steps=steps, seed=0, num_envs=2, device="cpu", checkpoint_every=10**9,
                   eval_episodes=2, config={"rollout_steps": 25, "epochs": 2})
    Trainer.create(spec, tmp_path / name).train()
    return tmp_path / name


def test_checkpoint_opponent_plays_its_trained_policy_and_refuses_another_env(tmp_path):
    run = _train_run(tmp_path, "rps", RPS)
    envs = make_vec_env(RPS, {}, num_envs=4)
    opponents = Opponents(f"checkpoint:{run}", envs.info, [1], seed=0, load_policy=load_policy_source)
    step = envs.reset(seed=0)
    for _ in range(20):
        actions = opponents.act(step)
        assert actions.shape == (4, 2) and np.all(actions[:, 0] == 0) and np.all(actions[:, 1] < 3)
        step = envs.step(actions)
    ttt = make_vec_env(TTT, {}, num_envs=1)
    with pytest.raises(MARLError) as err:
        Opponents(f"checkpoint:{run}", ttt.info, [1], seed=0, load_policy=load_policy_source)
    assert err.value.code == "opponent-env-mismatch" and "rps_v2" in err.value.message
    with pytest.raises(MARLError) as err:
        Opponents(f"checkpoint:{tmp_path / 'nothing'}", envs.info, [1], seed=0, load_policy=load_policy_source)
    assert err.value.code == "missing-run-dir"
