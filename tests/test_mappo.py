"""MAPPO/IPPO mechanics: decentralised execution, masks, registry capabilities, determinism."""
import dataclasses

import numpy as np
import pytest
import torch

from algorithms.errors import MARLError
from algorithms import ALGORITHMS, make, make_config
from algorithms.base import field_docs
from algorithms.core.env_registry import make_vec_env
from tests.helpers import SPREAD, SPREAD_KWARGS


def _algo(env=SPREAD, kwargs=SPREAD_KWARGS, algo="mappo", **overrides):
    torch.manual_seed(0)
    envs = make_vec_env(env, kwargs, num_envs=2)
    return make(algo, envs, **overrides), envs


@pytest.mark.parametrize("overrides", [{}, {"share_parameters": False}, {"recurrent": True},
                                       {"recurrent": True, "share_parameters": False}])
@pytest.mark.parametrize("continuous", [False, True])
def test_changing_agent_js_observation_leaves_agent_is_policy_unchanged(overrides, continuous):
    algo, envs = _algo(kwargs={**SPREAD_KWARGS, "continuous_actions": continuous}, **overrides)
    step = envs.reset(seed=0)
    obs = torch.as_tensor(step.obs)
    mask = torch.as_tensor(step.action_mask)
    h = algo.initial_memory(2)
    h = h[0] if h is not None else None
    before, _ = algo.policy(obs, mask, h)
    changed = obs.clone()
    changed[:, 1] += torch.randn_like(changed[:, 1]) * 5.0  # agent 1 sees something else entirely
    after, _ = algo.policy(changed, mask, h)
    params = (lambda d: d.dist.logits) if not continuous else (lambda d: d.dist.mean)
    torch.testing.assert_close(params(before)[:, [0, 2]], params(after)[:, [0, 2]], rtol=0, atol=0)
    assert not torch.allclose(params(before)[:, 1], params(after)[:, 1])


def test_masked_actions_are_never_sampled():
    algo, envs = _algo(env="mpe2:simple_speaker_listener_v4", kwargs={})
    step = envs.reset(seed=0)
    for _ in range(50):
        actions, _ = algo.act(step, None, deterministic=False)
        assert actions[:, 0].max() < 3  # the speaker has 3 real choices out of the padded 5
        step = envs.step(actions)


def test_continuous_actions_stay_inside_the_box():
    algo, envs = _algo(kwargs={**SPREAD_KWARGS, "continuous_actions": True}, log_std_init=1.0)
    step = envs.reset(seed=0)
    actions, _ = algo.act(step, None, deterministic=False)
    assert actions.shape == (2, 3, 5) and actions.min() >= 0.0 and actions.max() <= 1.0


def test_centralised_critic_reads_the_state_and_ippo_does_not():
    mappo, _ = _algo(algo="mappo")
    ippo, _ = _algo(algo="ippo")
    assert mappo.config.centralised_critic and not ippo.config.centralised_critic
    first = lambda m: m.critic.torso.mlp.net[1].weight  # noqa: E731  [in, hidden]
    assert first(mappo).shape[0] == 54 + 3 and first(ippo).shape[0] == 18 + 3


def test_every_config_field_is_documented_and_registry_capabilities_are_sets():
    for entry in ALGORITHMS.values():
        docs = field_docs(entry.config_cls)
        missing = [f.name for f in dataclasses.fields(entry.config_cls) if f.name not in docs]
        assert not missing, f"{entry.id}: fields without a docstring: {missing}"
        assert entry.config_cls.action_spaces <= {"discrete", "continuous", "multi_discrete"}
        assert "discrete" in entry.config_cls.action_spaces or "continuous" in entry.config_cls.action_spaces
        assert entry.config_cls.reward_settings <= {"cooperative", "competitive", "mixed"}


def test_overrides_are_typed_and_validated():
    cfg = make_config("mappo", {"lr": "3e-4", "recurrent": "true", "epochs": "4"})
    assert (cfg.lr, cfg.recurrent, cfg.epochs) == (3e-4, True, 4)
    with pytest.raises(MARLError, match="valid keys: rollout_steps"):
        make_config("mappo", {"learning_rate": "1"})
    with pytest.raises(MARLError, match="'epochs' must be int"):
        make_config("mappo", {"epochs": "many"})
    with pytest.raises(MARLError, match="must lie in"):
        make_config("mappo", {"gamma": "1.5"})


def test_same_seed_same_updates():
    def run():
        algo, envs = _algo(rollout_steps=10, epochs=2)
        algo.begin(envs.reset(seed=3))
        batch, _ = algo.collect()
        return algo.update(batch), batch["action"]
    (m1, a1), (m2, a2) = run(), run()
    assert m1 == m2 and torch.equal(a1, a2)


def test_learn_stops_at_the_step_budget():
    algo, envs = _algo(rollout_steps=5, epochs=1)
    seen = []
    rows = []
    algo.learn(25, lambda a, m: (seen.append(m["env_steps"]), rows.append(m)))
    assert seen == [10, 20, 30] and algo.env_steps == 30
    assert [m["iterations"] for m in rows] == [1, 2, 3]
    assert all(np.isfinite(v) for m in rows for k, v in m.items() if k.startswith("losses/"))
    # A budget already reached runs nothing more; a later one continues from where the first stopped.
    algo.learn(30, lambda a, m: seen.append(m["env_steps"]))
    assert seen == [10, 20, 30] and algo.iterations == 3
    algo.learn(40, lambda a, m: seen.append(m["env_steps"]))
    assert seen == [10, 20, 30, 40] and algo.env_steps == 40


def test_lr_anneal_steps_decays_both_learning_rates_linearly_to_zero():
    algo, envs = _algo(rollout_steps=10, epochs=1, lr=1e-3, critic_lr=2e-3, lr_anneal_steps=80)  # 20 steps/iteration
    algo.begin(envs.reset(seed=0))
    seen = []
    algo.learn(100, lambda a, m: seen.append((a.env_steps, a.actor_opt.param_groups[0]["lr"],
                                              a.critic_opt.param_groups[0]["lr"])))
    for steps, actor_lr, critic_lr in seen:
        left = max(0.0, 1 - steps / 80)
        assert actor_lr == pytest.approx(1e-3 * left) and critic_lr == pytest.approx(2e-3 * left)
    assert [s for s, _, _ in seen] == [20, 40, 60, 80, 100] and seen[-1][1] == 0.0
    with pytest.raises(MARLError, match="lr_anneal_steps"):
        make_config("mappo", {"lr_anneal_steps": "-1"})
