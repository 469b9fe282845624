"""Property-based tests (hypothesis) for what users feed the CLI and the library: answers files, `--set` and
`--env-kwarg` values, config overrides, rule files, checkpoints and policy files. Whatever the input: either
it is accepted, or one MARLError (a clear message) is raised; never another exception, never a changed file."""
from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import algorithms
from advisor.cli_options import parse_env_kwargs, parse_set_options
from advisor.facts import load_answers_file
from advisor.ruleset import RULE_FILES, default_rules_dir, load_ruleset
from algorithms.base import apply_overrides
from algorithms.core.checkpoint import load_checkpoint, save_checkpoint
from algorithms.core.policy_file import read_policy
from algorithms.errors import MARLError

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
RULES = load_ruleset()
text = st.text(max_size=40)
scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6), st.floats(allow_nan=True), text)
yaml_like = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                          st.dictionaries(text, inner, max_size=4)), max_leaves=8)


def _accepts_or_refuses(fn, *args):
    try:
        return fn(*args)
    except MARLError as err:
        assert err.message and err.code
        return None


@FAST
@given(st.lists(text, max_size=5))
def test_set_and_env_kwarg_options_parse_or_refuse(items):
    sets = _accepts_or_refuses(parse_set_options, items)
    kwargs = _accepts_or_refuses(parse_env_kwargs, items)
    if all("=" in i and i.partition("=")[0].strip() for i in items):
        assert sets is not None and kwargs is not None and set(sets) == set(kwargs)


@FAST
@given(st.dictionaries(st.sampled_from(["lr", "gamma", "epochs", "activation", "recurrent", "batch_steps",
                                        "minibatches", "nonsense", "clip_eps"]), scalars, max_size=4))
def test_config_overrides_apply_or_refuse(overrides):
    config = _accepts_or_refuses(apply_overrides, algorithms.get_entry("mappo").config_cls(), overrides)
    if config is not None:
        config.validate()  # what is accepted is a valid config


@FAST
@given(st.one_of(yaml_like, st.binary(max_size=200)))
def test_answers_files_load_or_refuse(tmp_path_factory, content):
    path = tmp_path_factory.mktemp("answers") / "answers.yaml"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        import yaml
        path.write_text(yaml.safe_dump(content))
    before = path.read_bytes()
    _accepts_or_refuses(load_answers_file, path, RULES.facts)
    assert path.read_bytes() == before


@FAST
@given(st.sampled_from(RULE_FILES), st.binary(max_size=300) | yaml_like)
def test_damaged_rule_files_are_refused_with_the_file_named(tmp_path_factory, name, content):
    rules_dir = tmp_path_factory.mktemp("rules")
    for other in RULE_FILES:
        (rules_dir / other).write_text(default_rules_dir().joinpath(other).read_text())
    if isinstance(content, bytes):
        (rules_dir / name).write_bytes(content)
    else:
        import yaml
        (rules_dir / name).write_text(yaml.safe_dump(content))
    try:
        load_ruleset(rules_dir)
    except MARLError as err:
        assert err.message


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def saved(tmp_path_factory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("saved")
    algo = algorithms.make("iql", "matrix:climbing", num_envs=1, seed=0, batch_size=2)
    algo.learn(20)
    algo.save(folder / "policy.pt")
    save_checkpoint(folder / "latest.pt", {"algorithm": algo.state_dict(), "rng": None, "algo": "iql"})
    return folder / "policy.pt", folder / "latest.pt"


@FAST
@given(cut=st.floats(0.0, 0.999), noise=st.binary(min_size=1, max_size=64), offset=st.floats(0.0, 0.999))
def test_truncated_or_scribbled_files_are_refused_and_left_alone(tmp_path_factory, saved, cut, noise, offset):
    for original, load in ((saved[0], read_policy), (saved[1], load_checkpoint)):
        data = original.read_bytes()
        damaged = bytearray(data[: int(len(data) * cut)])
        at = int(len(damaged) * offset)
        damaged[at: at + len(noise)] = noise
        path = tmp_path_factory.mktemp("damaged") / original.name
        path.write_bytes(bytes(damaged))
        before = _digest(path)
        with pytest.raises(MARLError):
            load(path)
        assert _digest(path) == before


def test_a_checkpoint_of_another_algorithm_is_refused(tmp_path, saved):
    """A policy file whose header names another algorithm than its weights were saved by."""
    payload = torch.load(saved[0], weights_only=True)
    payload["algorithm"] = "mappo"
    torch.save(payload, tmp_path / "mixed.pt")
    with pytest.raises(MARLError):
        algorithms.load(tmp_path / "mixed.pt")
