"""IQL / VDN / QMIX / QPLEX mechanics: mixer properties, IQL's independence, masks, targets, configs, CLI."""
import dataclasses
import json

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from advisor.cli import app
from algorithms.errors import MARLError
from algorithms import ALGORITHMS, make, make_config
from algorithms.base import field_docs
from algorithms.core.mixers import QMixer, QPLEXMixer, VDNMixer, make_mixer
from algorithms.core.env_registry import make_vec_env
from algorithms.core.td_targets import lambda_returns
from algorithms.value_decomposition import ValueDecomposition
from tests.helpers import SPREAD, SPREAD_KWARGS

VALUE_BASED = ("iql", "vdn", "qmix", "qplex")
runner = CliRunner()


def _algo(algo="qmix", env=SPREAD, kwargs=SPREAD_KWARGS, num_envs=2, **overrides):
    torch.manual_seed(0)
    envs = make_vec_env(env, kwargs, num_envs=num_envs)
    return make(algo, envs, **overrides), envs


# --- Mixer properties ------------------------------------------------------------------------------


def test_qmix_mixer_is_monotonic_in_every_agent_utility():
    """Rashid et al. 2018, Eq. 5: dQ_tot/dQ_i >= 0 for every state and utility, by construction."""
    torch.manual_seed(0)
    mixer = QMixer(n_agents=4, state_dim=7, embed=8, hidden=16)
    for p in mixer.parameters():  # large random weights: monotonicity must not depend on initialisation
        p.data.normal_(0, 2.0)
    q = (torch.randn(512, 4) * 10).requires_grad_()
    state = torch.randn(512, 7) * 3
    (grad,) = torch.autograd.grad(mixer(q, state).sum(), q)
    assert (grad >= 0).all()
    assert (grad > 0).float().mean() > 0.5  # not trivially flat
    # ... and it is state-dependent and not a plain sum.
    assert not torch.allclose(mixer(q, state), mixer(q, state.flip(0)))


@pytest.mark.parametrize("kind", ["qmix", "qplex"])
def test_a_state_normalised_mixer_ignores_the_state_scale_and_stays_monotonic(kind):
    """mixer_state_norm: the hypernetworks see the state through a LayerNorm, so a state scaled and shifted as a
    whole (LBF's raw coordinates against small ones) mixes the same utilities the same way."""
    torch.manual_seed(0)
    plain = make_mixer(kind, 3, 6, 4, embed=8, hidden=16, heads=2)
    normed = make_mixer(kind, 3, 6, 4, embed=8, hidden=16, heads=2, state_norm=True)
    q, state = torch.randn(256, 3).requires_grad_(), torch.randn(256, 6)
    actions = torch.nn.functional.one_hot(torch.randint(0, 4, (256, 3)), 4).float()
    q_max = q.detach() + torch.rand(256, 3)
    torch.testing.assert_close(normed(q, 10 * state + 3, q_max, actions), normed(q, state, q_max, actions),
                               rtol=1e-4, atol=1e-4)
    assert not torch.allclose(plain(q, 10 * state + 3, q_max, actions), plain(q, state, q_max, actions), atol=1e-2)
    if kind == "qmix":
        (grad,) = torch.autograd.grad(normed(q, state).sum(), q)
        assert (grad >= 0).all()
    # A one-feature state would become a constant: it is read as it is.
    assert not hasattr(make_mixer(kind, 3, 1, 4, embed=8, hidden=16, heads=2, state_norm=True), "norm")
    algo, _ = _algo(kind, schedule="replay", mixer_state_norm=True, rollout_steps=25, batch_size=2, updates_per_iteration=1)
    norm = algo.mixer.norm
    algo.learn(100)
    assert not torch.equal(norm.weight, torch.ones_like(norm.weight))  # the LayerNorm trains with the mixer


def test_vdn_is_exactly_additive():
    q = torch.randn(64, 5, 3)
    assert torch.equal(VDNMixer()(q, None), q.sum(-1))
    a, b = torch.randn(10, 3), torch.randn(10, 3)
    torch.testing.assert_close(VDNMixer()(a + b, None), VDNMixer()(a, None) + VDNMixer()(b, None))


def test_qplex_keeps_igm_and_represents_a_non_monotonic_payoff():
    """Wang et al. 2021: at the agents' greedy actions Q_tot = sum V_i is the maximum over joint actions
    (IGM); the lambda weights depend on the joint action, unlike QMIX's state-only weights."""
    torch.manual_seed(0)
    mixer = QPLEXMixer(n_agents=2, state_dim=3, n_actions=3, heads=2, hidden=16)
    utilities = torch.randn(3, 2)  # [A, N]
    state = torch.randn(1, 3)
    q_max = utilities.max(0).values[None]  # [1, N]
    values = {}
    for a0 in range(3):
        for a1 in range(3):
            q = torch.stack([utilities[a0, 0], utilities[a1, 1]])[None]
            onehot = torch.nn.functional.one_hot(torch.tensor([[a0, a1]]), 3).float()
            values[(a0, a1)] = mixer(q, state, q_max, onehot).item()
    greedy = tuple(utilities.argmax(0).tolist())
    assert max(values, key=values.get) == greedy
    lam = [mixer.lambdas(state, torch.nn.functional.one_hot(torch.tensor([[a, a]]), 3).float()) for a in range(3)]
    assert all((lam_a > 0).all() for lam_a in lam) and not torch.allclose(lam[0], lam[1])


# --- IQL uses only each agent's own data -------------------------------------------------------------


def _batch(algo: ValueDecomposition, envs, episodes: int = 3):
    algo.begin(envs.reset(seed=0))
    while len(algo.replay) < episodes:
        algo.collect()
    sample = algo.replay.sample(episodes)
    batch = {k: torch.as_tensor(v).transpose(0, 1) for k, v in sample.items()}
    batch["action"] = batch["action"].long()
    return batch


def test_iql_loss_of_each_agent_uses_no_other_agents_data():
    algo, envs = _algo("iql", schedule="replay", rollout_steps=25)
    batch = _batch(algo, envs)
    errors, weight = algo.td_errors(batch)
    assert errors.shape == weight.shape == batch["reward"].shape  # [T, B, N]: one error per agent
    changed = {k: v.clone() for k, v in batch.items()}
    changed["obs"][..., 1, :] += torch.randn_like(changed["obs"][..., 1, :]) * 5  # agent 1's data only
    changed["reward"][..., 1] += 100.0
    changed["action"][..., 1] = (changed["action"][..., 1] + 1) % 5
    changed["state"] = torch.randn_like(changed["state"])  # the global state is not IQL's business
    after, _ = algo.td_errors(changed)
    torch.testing.assert_close(after[..., [0, 2]], errors[..., [0, 2]], rtol=0, atol=0)
    assert not torch.allclose(after[..., 1], errors[..., 1])
    # The mixers, by contrast, couple the agents: the same change moves QMIX's team error.
    qmix, envs = _algo("qmix", schedule="replay", rollout_steps=25)
    batch = _batch(qmix, envs)
    before, _ = qmix.td_errors(batch)
    changed = {**batch, "reward": batch["reward"].clone()}
    changed["reward"][..., 1] += 100.0
    assert not torch.allclose(qmix.td_errors(changed)[0], before)


def test_agent_utilities_depend_only_on_own_observation():
    algo, envs = _algo("qmix")
    obs = torch.as_tensor(envs.reset(seed=0).obs)
    before, _ = algo.q_values(obs, None)
    changed = obs.clone()
    changed[:, 2] += 3.0
    after, _ = algo.q_values(changed, None)
    torch.testing.assert_close(before[:, :2], after[:, :2], rtol=0, atol=0)


# --- Acting and targets ----------------------------------------------------------------------------


def test_masked_actions_are_never_chosen():
    algo, envs = _algo("qmix", env="mpe2:simple_speaker_listener_v4", kwargs={}, epsilon_start=1.0)
    step = envs.reset(seed=0)
    for _ in range(50):
        actions, _ = algo.act(step, None, deterministic=False)
        assert actions[:, 0].max() < 3  # the speaker has 3 real choices out of the padded 5
        step = envs.step(actions)


def test_epsilon_anneals_linearly_and_greedy_ignores_it():
    algo, envs = _algo("vdn", epsilon_start=1.0, epsilon_finish=0.1, epsilon_anneal_steps=1000)
    assert algo.epsilon() == 1.0
    algo.env_steps = 500
    assert np.isclose(algo.epsilon(), 0.55)
    algo.env_steps = 5000
    assert np.isclose(algo.epsilon(), 0.1)
    step = envs.reset(seed=0)
    greedy = algo.q_values(torch.as_tensor(step.obs), None)[0].argmax(-1).numpy()
    assert (algo.act(step, None, deterministic=True)[0] == greedy).all()


def test_lambda_returns_one_step_and_monte_carlo():
    reward = torch.tensor([[1.0], [2.0], [3.0], [0.0]])       # [T=4, B=1], last step is padding
    next_value = torch.tensor([[10.0], [20.0], [30.0], [0.0]])
    terminated = torch.tensor([[False], [False], [False], [False]])
    filled = torch.tensor([[True], [True], [True], [False]])
    one_step = lambda_returns(reward, terminated, next_value, filled, gamma=0.5, lam=0.0)
    torch.testing.assert_close(one_step[:3, 0], torch.tensor([6.0, 12.0, 18.0]))
    mc = lambda_returns(reward, terminated, next_value, filled, gamma=0.5, lam=1.0)
    # lam=1: discounted rewards to the episode's end, bootstrapped once from the last real next value.
    torch.testing.assert_close(mc[:3, 0], torch.tensor([1 + 0.5 * 2 + 0.25 * 3 + 0.125 * 30,
                                                        2 + 0.5 * 3 + 0.25 * 30, 3 + 0.5 * 30]))
    terminal = lambda_returns(reward, torch.tensor([[False], [False], [True], [False]]), next_value, filled, 0.5, 0.0)
    assert terminal[2, 0] == 3.0


def test_one_step_targets_match_the_general_pass_over_time():
    """lam = 0 takes a shortcut with no loop over time; a vanishing lam runs the loop and must agree, with
    padding and terminations in the batch."""
    g = torch.Generator().manual_seed(0)
    reward, next_value = torch.randn(6, 4, 3, generator=g), torch.randn(6, 4, 3, generator=g)
    terminated = torch.rand(6, 4, 3, generator=g) < 0.2
    filled = (torch.arange(6)[:, None] < torch.tensor([6, 3, 1, 5])).unsqueeze(-1)   # [T, B, 1]
    torch.testing.assert_close(lambda_returns(reward, terminated, next_value, filled, 0.9, 0.0),
                               lambda_returns(reward, terminated, next_value, filled, 0.9, 1e-12))


def test_truncated_episodes_bootstrap_from_the_final_observation():
    algo, envs = _algo("qmix", schedule="replay", kwargs={**SPREAD_KWARGS, "max_cycles": 5}, rollout_steps=5)
    sent, env_step = [], envs.step
    envs.step = lambda actions: sent.append(np.array(actions)) or env_step(actions)
    algo.begin(envs.reset(seed=0))
    algo.collect()
    assert len(algo.replay) == 2
    # The real final observations: the same seed and actions on copies that run on past step 5 (no auto-reset).
    longer = make_vec_env(SPREAD, {**SPREAD_KWARGS, "max_cycles": 6}, num_envs=2)
    longer.reset(seed=0)
    for actions in sent:
        final = longer.step(actions).obs
    for copy, episode in enumerate(algo.replay.episodes):
        assert episode["obs"].shape[0] == 6 and episode["action"].shape[0] == 5
        assert not episode["terminated"].any()  # MPE truncates at max_cycles: the targets bootstrap
        np.testing.assert_allclose(episode["obs"][-1], final[copy], atol=1e-6)  # the final obs ...
        # ... not the auto-reset one, which is the next episode's first row
        assert not np.allclose(episode["obs"][-1], algo.last.obs[copy])


@pytest.mark.parametrize("algo_id", VALUE_BASED)
@pytest.mark.parametrize("recurrent", [False, True])
def test_every_variant_trains_and_changes_its_networks(algo_id, recurrent):
    algo, envs = _algo(algo_id, schedule="replay", recurrent=recurrent, rollout_steps=25, batch_size=2, target_update_interval=3,
                       updates_per_iteration=1, recency_half_life=1.0 if recurrent else 0.0, td_lambda=0.5 if recurrent else 0.0)
    before = [p.detach().clone() for p in algo.params]
    seen = []
    algo.learn(150, lambda a, m: seen.append(m))
    assert np.isfinite(seen[-1]["losses/td"]) and seen[-1]["env_steps"] == 150
    assert any(not torch.equal(b, p) for b, p in zip(before, algo.params))
    assert algo.updates == 3 and all(torch.equal(t, p) for t, p in  # hard update after 3 steps
                                     zip(algo.target_agent.parameters(), algo.agent.parameters()))


def test_default_schedule_is_one_update_per_stored_episode():
    """EPyMARL's schedule whatever the copy count: each collection's stored episodes set its gradient steps."""
    algo, envs = _algo("qmix", schedule="replay", rollout_steps=25, batch_size=2)
    stored = []
    algo.learn(25 * envs.num_envs * 3, lambda a, m: stored.append(a.stored))
    assert stored == [envs.num_envs] * 3  # 25-step episodes: every copy stores one per collection
    # the first collection already fills batch_size=2 episodes, so every collection updates
    assert algo.updates == 3 * envs.num_envs


@pytest.mark.parametrize("schedule", ["parallel", "replay"])
def test_same_seed_same_updates(schedule):
    def run():
        algo, envs = _algo("qplex", schedule=schedule, rollout_steps=25, batch_size=2)
        algo.begin(envs.reset(seed=3))
        return [m["losses/td"] for m in _collect_metrics(algo, 100)]
    assert run() == run()


def _collect_metrics(algo, steps):
    seen = []
    algo.learn(steps, lambda a, m: seen.append(m))
    return seen


# --- Configs and registry ----------------------------------------------------------------------------


def test_configs_match_their_algorithm_and_are_documented():
    expected = {"iql": ("none", False), "vdn": ("vdn", False), "qmix": ("qmix", True), "qplex": ("qplex", True)}
    for algo_id, (mixer, needs_state) in expected.items():
        cls = ALGORITHMS[algo_id].config_cls
        assert cls().mixer == mixer and cls.needs_state is needs_state and cls.policy_type == "off-policy"
        assert cls.action_spaces == {"discrete", "multi_discrete"}
        missing = [f.name for f in dataclasses.fields(cls) if f.name not in field_docs(cls)]
        assert not missing
    assert ALGORITHMS["iql"].config_cls.reward_settings == {"cooperative", "competitive", "mixed"}
    assert ALGORITHMS["qmix"].config_cls.reward_settings == {"cooperative"}


def test_bad_values_are_refused():
    with pytest.raises(MARLError, match="'mixer' must be one of"):
        make_config("qmix", {"mixer": "qtran"})
    with pytest.raises(MARLError, match="'td_lambda' must lie in"):
        make_config("vdn", {"td_lambda": "2"})
    with pytest.raises(MARLError, match="'batch_size' must be positive"):
        make_config("iql", {"batch_size": "0"})


# --- End to end through the CLI ----------------------------------------------------------------------


def test_continuous_env_gets_one_clear_error():
    result = runner.invoke(app, ["train", "qmix", "--env", SPREAD, "--force", "--env-kwarg", "continuous_actions=true",
                                 "--steps", "100"])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert "unsupported-action-space" in result.output and "mappo" in result.output


@pytest.mark.parametrize("env", ["matrix:climbing", SPREAD])
def test_train_resume_eval_end_to_end(tmp_path, env):
    small = ["--num-envs", "2", "--eval-episodes", "4", "--set", "batch_size=4", "--checkpoint-every", "50"]
    out = tmp_path / "run"
    result = runner.invoke(app, ["train", "qmix", "--env", env, "--steps", "100", "--out", str(out), *small])
    assert result.exit_code == 0, result.output
    assert (out / "checkpoints" / "latest.pt").is_file() and (out / "eval.json").is_file()
    result = runner.invoke(app, ["train", "--resume", str(out), "--steps", "200"])
    assert result.exit_code == 0, result.output
    evaluation = json.loads((out / "eval.json").read_text())
    assert evaluation["env_steps"] == 200
    result = runner.invoke(app, ["eval", str(out), "--episodes", "4", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["episodes"] == 4


@pytest.mark.parametrize("settings", [["--set", "schedule=replay", "--set", "batch_size=2", "--set", "recurrent=true"],
                                      ["--set", "minibatches=2"]])
def test_resume_continues_exactly(tmp_path, settings):
    """A run stopped and resumed at a checkpoint writes the same metrics as one that never stopped."""
    args = ["train", "vdn", "--env", SPREAD, "--num-envs", "2", "--eval-episodes", "2", *settings,
            "--checkpoint-every", "100"]
    assert runner.invoke(app, [*args, "--steps", "300", "--out", str(tmp_path / "straight")]).exit_code == 0
    assert runner.invoke(app, [*args, "--steps", "150", "--out", str(tmp_path / "split")]).exit_code == 0
    assert runner.invoke(app, ["train", "--resume", str(tmp_path / "split"), "--steps", "300"]).exit_code == 0
    straight, split = ((tmp_path / n / "metrics.csv").read_text() for n in ("straight", "split"))
    assert straight == split and len(straight.splitlines()) == 7  # header + 6 iterations of 50 steps


def test_replay_that_will_not_fit_is_refused_once_episodes_show_their_size(monkeypatch):
    """The up-front check cannot know episode lengths; the stored episodes are projected to a full buffer."""
    import algorithms.core.memory as memory

    algo, envs = _algo("vdn", schedule="replay", num_envs=2)
    per_episode = None
    while len(algo.replay) < 2:
        algo.collect()
    per_episode = algo.replay.projected_bytes() / algo.config.buffer_size
    # A machine where a full buffer of such episodes takes more than 3/4 of memory.
    monkeypatch.setattr(memory, "physical_memory", lambda: int(per_episode * algo.config.buffer_size / 2))
    fresh, _ = _algo("vdn", schedule="replay", num_envs=2)  # the up-front check passes: one-step episodes would fit
    with pytest.raises(MARLError) as caught:
        for _ in range(20):
            fresh.collect()
    assert caught.value.code == "too-large" and "stored so far" in str(caught.value)
    assert "buffer_size" in caught.value.hint and len(fresh.replay) <= 2  # refused with the first episodes (2 copies)


def test_a_qmix_saved_before_the_state_layernorm_loads_as_it_ran(tmp_path):
    """mixer_state_norm became QMIX's default after QMIX policies and runs were saved without the field: those
    load with the raw-state mixer they were trained with (weights fit, same Q values)."""
    import algorithms
    from algorithms.core.run_dir import backfill_added_fields

    algo, _ = _algo("qmix", mixer_state_norm=False)
    algo.save(tmp_path / "old.pt")
    payload = torch.load(tmp_path / "old.pt", weights_only=True)
    del payload["config"]["mixer_state_norm"]
    torch.save(payload, tmp_path / "old.pt")
    loaded = algorithms.load(tmp_path / "old.pt")
    assert loaded.config.mixer_state_norm is False and not hasattr(loaded.mixer, "norm")
    for a, b in zip(algo.mixer.parameters(), loaded.mixer.parameters()):
        assert torch.equal(a, b)
    assert make_config("qmix").mixer_state_norm is True  # what a new run gets
    fresh = {"lr": 0.001}
    backfill_added_fields(fresh, {"lr", "mixer_state_norm"})
    assert fresh == {"lr": 0.001, "mixer_state_norm": False}


def test_a_value_learner_saved_before_the_parallel_schedule_loads_as_it_ran(tmp_path):
    """Policies and runs saved before `schedule` and `layer_norm` existed trained with replay and agent networks
    without LayerNorm: they load that way (weights fit, same Q values), not with today's defaults."""
    import algorithms

    algo, envs = _algo("vdn", schedule="replay", layer_norm=False, hidden_size=64)
    algo.save(tmp_path / "old.pt")
    payload = torch.load(tmp_path / "old.pt", weights_only=True)
    for name in ("schedule", "epochs", "minibatches", "layer_norm"):
        del payload["config"][name]
    torch.save(payload, tmp_path / "old.pt")
    loaded = algorithms.load(tmp_path / "old.pt")
    assert loaded.config.schedule == "replay" and loaded.config.layer_norm is False
    obs = torch.as_tensor(envs.reset(seed=0).obs)
    torch.testing.assert_close(loaded.q_values(obs, None)[0], algo.q_values(obs, None)[0])
    assert make_config("vdn").schedule == "parallel" and make_config("vdn").layer_norm is True  # a new run's


# --- Agents that leave early: they stay out of the team's value to the episode's last row -----------------


def _early_exit_episode(algo_id: str, **overrides):
    """One 5-step early_exit episode (runner_1 terminates on step 2, the others are truncated on step 5) in replay."""
    algo, envs = _algo(algo_id, schedule="replay", env="tests.fixtures.envs:early_exit_env", kwargs={}, num_envs=1, rollout_steps=5,
                       standardise_rewards=False, **overrides)
    algo.begin(envs.reset(seed=0))
    algo.collect()
    (episode,) = algo.replay.episodes
    return algo, episode


def test_a_departed_agent_stays_dead_at_the_last_row_of_a_truncated_episode():
    _, episode = _early_exit_episode("vdn")
    # rows 0..5: everyone in at rows 0-1; runner_1 gone from row 2 on, the final observation (row 5) included
    assert episode["alive"].astype(int).tolist() == [[1, 1, 1], [1, 1, 1]] + [[1, 0, 1]] * 4
    assert episode["active"][-1].tolist() == [True, False, True]
    assert episode["terminated"][:, 1].tolist() == [False, True, False, False, False]


def test_vdn_td_errors_by_hand_with_a_departed_agent():
    """Q_tot(t) = the live agents' utilities summed; target(t) = mean reward + gamma * [team not done] * the live
    agents' target utilities at t+1 summed, at the greedy (double-Q) actions. runner_1's row after its exit (all
    zeros, Q computed on it) must never enter, the final row included."""
    algo, episode = _early_exit_episode("vdn", gamma=0.9, double_q=True, td_lambda=0.0)
    batch = {k: torch.as_tensor(v).unsqueeze(1) for k, v in episode.items()}   # time-major, B = 1
    batch["action"], batch["filled"] = batch["action"].long(), torch.ones(5, 1, dtype=torch.bool)
    errors, weight = algo.td_errors(batch)
    with torch.no_grad():
        q = algo._q_sequence(algo.agent, batch["obs"])[:, 0].numpy()            # [6, N, A]
        target_q = algo._q_sequence(algo.target_agent, batch["obs"])[:, 0].numpy()
    alive = np.array([[1, 1, 1]] * 2 + [[1, 0, 1]] * 4, bool)  # the env's truth, not the stored rows
    action, reward = episode["action"], episode["reward"]
    expected = []
    for t in range(5):
        q_tot = sum(q[t, i, action[t, i]] for i in range(3) if alive[t, i])
        next_tot = sum(target_q[t + 1, i, q[t + 1, i].argmax()] for i in range(3) if alive[t + 1, i])
        expected.append(q_tot - (reward[t].mean() + 0.9 * next_tot))  # nobody's exit ends the team's episode
    np.testing.assert_allclose(errors[:, 0].detach().numpy(), expected, rtol=1e-5, atol=1e-5)
    assert weight.all()


def test_the_team_episode_terminates_when_every_agent_still_in_has_terminated():
    """fragile_state_env: every agent terminates at step 4, so the last target is the reward alone."""
    algo, envs = _algo("vdn", schedule="replay", env="tests.fixtures.envs:fragile_state_env", kwargs={}, num_envs=1, rollout_steps=4,
                       standardise_rewards=False, gamma=0.9)
    algo.begin(envs.reset(seed=0))
    algo.collect()
    (episode,) = algo.replay.episodes
    batch = {k: torch.as_tensor(v).unsqueeze(1) for k, v in episode.items()}
    batch["action"], batch["filled"] = batch["action"].long(), torch.ones(4, 1, dtype=torch.bool)
    errors, _ = algo.td_errors(batch)
    with torch.no_grad():
        q = algo._q_sequence(algo.agent, batch["obs"])[:, 0]
    q_tot_last = q[3].gather(-1, batch["action"][3, 0].unsqueeze(-1)).sum()
    assert episode["alive"][-1].tolist() == [False, False, False]
    torch.testing.assert_close(errors[3, 0], q_tot_last - 1.0)


@pytest.mark.parametrize("algo_id", ["qmix", "qplex"])
def test_state_mixers_never_see_a_departed_agents_utility(algo_id):
    """The utilities the (target) mixer reads at every row after runner_1's exit are exactly zero for it."""
    algo, episode = _early_exit_episode(algo_id)
    seen = []
    original = algo.target_mixer.forward
    algo.target_mixer.forward = lambda q, *rest: seen.append(q.detach().clone()) or original(q, *rest)
    batch = {k: torch.as_tensor(v).unsqueeze(1) for k, v in episode.items()}
    batch["action"], batch["filled"] = batch["action"].long(), torch.ones(5, 1, dtype=torch.bool)
    algo.td_errors(batch)
    (next_q,) = seen                                        # [T, B, N]: rows 1..5
    assert (next_q[1:, 0, 1] == 0).all() and (next_q[:, 0, [0, 2]] != 0).all()


def test_a_final_observation_opens_real_actions_only():
    """At the final observation of a truncated episode the greedy target action may be any real action, but never a
    padded one: the speaker's 3 choices are padded to the listener's 5, and untrained padded utilities would
    otherwise set the bootstrap of every episode's last step."""
    algo, envs = _algo("qmix", schedule="replay", env="mpe2:simple_speaker_listener_v4", kwargs={"max_cycles": 5}, num_envs=1,
                       rollout_steps=5)
    algo.begin(envs.reset(seed=0))
    algo.collect()
    (episode,) = algo.replay.episodes
    assert episode["mask"][-1].tolist() == envs.info.real_actions.tolist()
    assert not episode["mask"][-1, 0, 3:].any() and episode["mask"][-1, 1].all()


@pytest.mark.parametrize("n_agents", [2, 8])
def test_qplex_agent_weights_are_sigmoids_not_a_softmax_over_agents(n_agents):
    """DMAQ_SI_Weight (the QPLEX authors' code): lambda_i = sum_k v_k(s) sigmoid(g_ik(s)) sigmoid(f_ik(s, a)).
    With g and f at zero every lambda_i is sum_k v_k / 4 for any number of agents; a softmax over agents would
    give sum_k v_k / (2N)."""
    torch.manual_seed(0)
    mixer = QPLEXMixer(n_agents=n_agents, state_dim=3, n_actions=2, heads=3, hidden=8)
    with torch.no_grad():
        for layer in (mixer.agent_term[-1], mixer.action_term[-1]):
            for p in layer.parameters():
                p.zero_()
    state = torch.randn(5, 3)
    actions = torch.nn.functional.one_hot(torch.randint(0, 2, (5, n_agents)), 2).float()
    v = mixer.head_weight(state).abs() + 1e-10                                     # [5, H]
    expected = (v.sum(-1, keepdim=True) / 4).expand(-1, n_agents)
    torch.testing.assert_close(mixer.lambdas(state, actions), expected)


# --- The parallel (PQN) schedule -------------------------------------------------------------------


@pytest.mark.parametrize("algo_id", ["iql", "vdn", "qmix", "qplex"])
def test_parallel_schedule_trains_on_each_rollout_once_and_drops_it(algo_id):
    algo, _ = _algo(algo_id, num_envs=4, schedule="parallel", rollout_steps=5, epochs=2, minibatches=3,
                    layer_norm=True, td_lambda=0.3)
    before = [p.detach().clone() for p in algo.agent.parameters()]
    algo.learn(20)
    assert algo.updates == 2 * 3, "one collection: epochs x minibatches gradient steps"
    assert algo.rollout == [] and len(algo.replay) == 0, "the rollout is dropped after its update"
    assert any(not torch.equal(a, b) for a, b in zip(before, algo.agent.parameters()))


def test_parallel_targets_chain_only_within_an_episode():
    """The lambda-chain stops where an episode ended inside the rollout: that step bootstraps from its own final
    observation, not from the next episode's first step."""
    algo, _ = _algo("vdn", num_envs=2, schedule="parallel", rollout_steps=30, td_lambda=1.0, gamma=0.5,
                    standardise_rewards=False)
    algo.collect()
    b = {k: torch.as_tensor(np.stack([row[k] for row in algo.rollout])) for k in algo.rollout[0]}
    b["action"] = b["action"].long()
    cut = b["cut"][:, 0]
    assert cut.any(), "spread episodes are 25 steps: one ends inside a 30-step rollout"
    end = int(torch.nonzero(cut)[0])
    with torch.no_grad():
        target = algo._rollout_targets(b)
        q, _ = algo.q_values(b["next_obs"][end], None)
        own = b["reward"][end].mean(-1) + 0.5 * q.max(-1).values.sum(-1)
    torch.testing.assert_close(target[end], own)


def test_a_rollout_that_will_not_fit_is_refused_up_front(monkeypatch):
    import algorithms.core.memory as memory

    monkeypatch.setattr(memory, "physical_memory", lambda: 10_000_000)  # 10 MB: 25 steps x 4096 copies do not fit
    with pytest.raises(MARLError) as caught:
        _algo("vdn", env="batched:simple_spread_v3", num_envs=4096)
    assert caught.value.code == "too-large" and "25-step rollout on 4,096 copies" in str(caught.value)
    assert "--num-envs" in caught.value.hint
    _algo("vdn", env="batched:simple_spread_v3", num_envs=16)  # 25 x 16 copies of spread's rows do


def test_parallel_schedule_refuses_a_recurrent_agent():
    with pytest.raises(MARLError, match="recurrent=true needs schedule=replay"):
        make_config("qmix", {"schedule": "parallel", "recurrent": "true"})
