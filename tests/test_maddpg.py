"""MADDPG mechanics: decentralised actors, Gumbel-softmax, centralised critics, teams, targets, replay, resume, CLI."""
from __future__ import annotations

import copy
import json

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from advisor.cli import app
from algorithms.errors import MARLError
from algorithms import make, make_config
from algorithms.training.evaluate import evaluate
from algorithms.core.seeding import rng_state, seed_everything, set_rng_state
from algorithms.core.transition_replay import FieldSpec, TransitionReplay
from algorithms.core.env_registry import make_vec_env
from algorithms.core.teams import resolve_teams
from algorithms.maddpg import clip_grad_norm_per_group, group_mlp, gumbel_softmax_st
from tests.helpers import SPREAD, SPREAD_KWARGS

CONTINUOUS = {**SPREAD_KWARGS, "continuous_actions": True}
TINY = {"learning_starts": 64, "batch_size": 32, "train_every": 16}


def _algo(env=SPREAD, kwargs=CONTINUOUS, num_envs=2, seed=0, **overrides):
    seed_everything(seed)
    envs = make_vec_env(env, kwargs, num_envs=num_envs)
    return make("maddpg", envs, **{**TINY, **overrides}), envs


# --- decentralised execution -------------------------------------------------------------------------


@pytest.mark.parametrize("share_actors", [False, True])
@pytest.mark.parametrize("continuous", [False, True])
def test_an_actors_action_depends_only_on_its_own_observation(continuous, share_actors):
    algo, envs = _algo(kwargs={**SPREAD_KWARGS, "continuous_actions": continuous}, share_actors=share_actors)
    obs = torch.as_tensor(envs.reset(seed=0).obs)
    before = algo.actor_out(algo.actor, obs)
    changed = obs.clone()
    changed[:, 1] += torch.randn_like(changed[:, 1]) * 5.0  # agent 1 sees something else entirely
    after = algo.actor_out(algo.actor, changed)
    torch.testing.assert_close(before[:, [0, 2]], after[:, [0, 2]], rtol=0, atol=0)
    assert not torch.allclose(before[:, 1], after[:, 1])
    # the env actions follow: agents 0 and 2 act exactly the same
    step = envs.reset(seed=0)
    acts, _ = algo.act(step, None, deterministic=True)
    step.obs = changed.numpy()
    acts_changed, _ = algo.act(step, None, deterministic=True)
    np.testing.assert_array_equal(acts[:, [0, 2]], acts_changed[:, [0, 2]])


# --- Gumbel-softmax straight-through ------------------------------------------------------------------


def test_gumbel_softmax_forward_is_one_hot_and_gradient_reaches_the_logits():
    torch.manual_seed(0)
    logits = torch.randn(256, 3, 5, requires_grad=True)
    y = gumbel_softmax_st(logits, tau=1.0)
    assert set(y.detach().unique().tolist()) <= {0.0, 1.0}
    torch.testing.assert_close(y.detach().sum(-1), torch.ones(256, 3))
    (y * torch.arange(5.0)).sum().backward()  # prefer higher indices
    assert logits.grad is not None and logits.grad.abs().sum() > 0
    assert (logits.grad[..., 4] > 0).float().mean() > 0.9  # the gradient pushes towards the preferred choice
    # sampled choices follow softmax(logits); without noise it is the argmax
    freq = gumbel_softmax_st(torch.tensor([[0.0, 1.0, 2.0]]).expand(20000, 3), 1.0).detach().mean(0)
    torch.testing.assert_close(freq, torch.softmax(torch.tensor([0.0, 1.0, 2.0]), -1), atol=0.02, rtol=0)
    greedy = gumbel_softmax_st(logits.detach(), 1.0, sample=False)
    assert torch.equal(greedy.argmax(-1), logits.argmax(-1))


def test_forbidden_and_padded_choices_are_never_taken():
    algo, envs = _algo(env="mpe2:simple_speaker_listener_v4", kwargs={})  # speaker: 3 real choices of 5
    step = envs.reset(seed=0)
    for _ in range(60):
        actions, _ = algo.act(step, None, deterministic=False)
        assert actions[:, 0].max() < 3
        step = envs.step(actions)


def test_continuous_actions_stay_in_the_box_and_padding_is_zero():
    algo, envs = _algo(env="mpe2:simple_speaker_listener_v4", kwargs={"continuous_actions": True}, noise_start=2.0)
    step = envs.reset(seed=0)
    actions, _ = algo.act(step, None, deterministic=False)
    assert actions.shape == (2, 2, 5) and actions.min() >= 0.0 and actions.max() <= 1.0
    raw = algo.to_action(algo.actor_out(algo.actor, torch.as_tensor(step.obs)), torch.ones(2, 2, 5, dtype=torch.bool),
                         True, 2.0)
    assert torch.all(raw[:, 0, 3:] == 0)  # the speaker has 3 action dimensions of the padded 5


# --- centralised critics ------------------------------------------------------------------------------


@pytest.mark.parametrize("overrides", [{}, {"teams": "auto"}, {"critic_input": "state"}])
def test_every_critic_sees_every_agents_action_and_observation(overrides):
    algo, envs = _algo(env="mpe2:simple_adversary_v3", kwargs={"continuous_actions": True}, **overrides)
    step = envs.reset(seed=0)
    obs, state = torch.as_tensor(step.obs), torch.as_tensor(step.state)
    action = torch.rand(2, 3, 5) * 2 - 1
    q = algo.q_values(algo.critic, obs, state, action)  # [K, N]
    assert q.shape == (2, 3)
    for j in range(3):
        changed = action.clone()
        changed[:, j, :2] = -changed[:, j, :2]
        q_changed = algo.q_values(algo.critic, obs, state, changed)
        assert (q_changed - q).abs().min() > 0, f"changing agent {j}'s action left some critic unchanged"
        moved = obs.clone()
        moved[:, j] += 1.0
        moved_state = torch.as_tensor(np.concatenate([moved[:, i, :n] for i, n in enumerate(envs.info.obs_sizes)], 1))
        assert (algo.q_values(algo.critic, moved, moved_state, action) - q).abs().min() > 0


# --- teams --------------------------------------------------------------------------------------------


def test_teams_auto_patterns_and_errors():
    tag = ("adversary_0", "adversary_1", "adversary_2", "agent_0")
    assert resolve_teams("", tag) == ([0, 1, 2, 3], list(tag))
    assert resolve_teams("auto", tag) == ([0, 0, 0, 1], ["adversary", "agent"])
    assert resolve_teams("adversary_*", tag) == ([0, 0, 0, 1], ["adversary_*", "agent_0"])
    with pytest.raises(MARLError, match="matches no agent"):
        resolve_teams("predator_*", tag)
    with pytest.raises(MARLError, match="critic_input"):
        make_config("maddpg", {"critic_input": "everything"})


def test_a_team_shares_one_critic_and_its_mean_reward():
    algo, envs = _algo(env="mpe2:simple_tag_v3", kwargs={"continuous_actions": True}, teams="adversary_*")
    assert algo.team_of == [0, 0, 0, 1]
    assert algo.critic[0].weight.shape[0] == 2  # two critics: the adversaries' and agent_0's
    assert algo.actor[0].weight.shape[0] == 4   # actors stay per agent unless share_actors
    reward = torch.tensor([[1.0, 2.0, 6.0, -5.0]])
    torch.testing.assert_close(reward @ algo.share.T, torch.tensor([[3.0, 3.0, 3.0, -5.0]]))
    step = envs.reset(seed=0)
    q = algo.q_values(algo.critic, torch.as_tensor(step.obs), torch.as_tensor(step.state), torch.zeros(2, 4, 5))
    torch.testing.assert_close(q[:, 0], q[:, 2])  # same critic, same inputs
    shared, _ = _algo(env="mpe2:simple_tag_v3", kwargs={"continuous_actions": True}, teams="auto", share_actors=True)
    assert shared.actor[0].weight.shape[0] == 2


def test_team_returns_are_reported_by_evaluate():
    algo, _ = _algo(env="mpe2:simple_adversary_v3", kwargs={}, teams="auto")
    result = evaluate(algo, "mpe2:simple_adversary_v3", {}, episodes=2, deterministic=True, seed=0)
    assert set(result["per_team"]) == {"adversary", "agent"}
    assert result["per_team"]["agent"]["agents"] == ["agent_0", "agent_1"]
    members = [result["per_agent"][a]["mean"] for a in ("agent_0", "agent_1")]
    assert result["per_team"]["agent"]["mean"] == pytest.approx(np.mean(members))
    plain, _ = _algo(env="mpe2:simple_adversary_v3", kwargs={})
    assert "per_team" not in evaluate(plain, "mpe2:simple_adversary_v3", {}, 1, True, 0)


# --- the update ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("continuous", [False, True])
def test_targets_move_by_tau_and_heterogeneous_agents_train(continuous):
    algo, _ = _algo(env="mpe2:simple_speaker_listener_v4", kwargs={"continuous_actions": continuous}, tau=0.25)
    algo.learn(64)  # fills the replay to learning_starts, no update yet
    assert len(algo.replay) == 64
    before = [copy.deepcopy(t.state_dict()) for t in (algo.target_actor, algo.target_critic)]
    stats = algo.update()
    assert all(np.isfinite(v) for v in stats.values())
    for old, target, online in zip(before, (algo.target_actor, algo.target_critic), (algo.actor, algo.critic)):
        for name, value in target.state_dict().items():
            torch.testing.assert_close(value, 0.75 * old[name] + 0.25 * online.state_dict()[name])
            assert not torch.equal(value, old[name])


@pytest.mark.parametrize("continuous", [False, True])
def test_each_actor_is_trained_only_through_its_own_critic(continuous):
    """The paper's actor gradient: agent i's action enters Q_i only; the others' come from the replay.
    Flattening agent 1's critic (constant Q_1) must leave agent 1's actor without gradient, while
    agents 0 and 2 still get one."""
    algo, _ = _algo(kwargs={**SPREAD_KWARGS, "continuous_actions": continuous}, logit_reg=0.0)
    algo.learn(64)
    with torch.no_grad():
        algo.critic[-1].weight[1].zero_()  # Q_1 = bias: no longer depends on any action
    algo.actor.zero_grad()
    algo.actor_loss(algo.replay.sample(32)).backward()
    per_agent = torch.stack([p.grad.pow(2).flatten(1).sum(1) for p in algo.actor.parameters()]).sum(0)  # [N]
    assert per_agent[1] == 0 and per_agent[0] > 0 and per_agent[2] > 0


def test_gradient_clipping_is_per_agent():
    torch.manual_seed(0)
    net = group_mlp(4, 8, 2, 1, [0, 1, 2])
    out = net(torch.randn(16, 3, 4))
    (out[:, 0].sum() * 1000 + out[:, 1].sum() * 1e-4).backward()  # agent 0 huge, agent 1 tiny, agent 2 none
    norms = clip_grad_norm_per_group(net, 0.5)
    assert norms[0] > 0.5 and 0 < norms[1] < 0.5 and norms[2] == 0
    after = torch.stack([p.grad.pow(2).flatten(1).sum(1) for p in net.parameters()]).sum(0).sqrt()
    torch.testing.assert_close(after, torch.stack([torch.tensor(0.5), norms[1], norms[2]]), atol=1e-5, rtol=1e-5)


def test_truncation_is_stored_with_the_final_observation_and_not_as_terminal():
    algo, envs = _algo(kwargs={**CONTINUOUS, "max_cycles": 5}, train_every=20, learning_starts=10**6)
    algo.learn(20)  # 10 steps of 2 copies: two episodes end on each copy
    data = {k: v[: len(algo.replay)] for k, v in algo.replay.data.items()}
    assert not data["terminated"].any()
    ends = torch.arange(20) // 2 % 5 == 4  # rows are (step, copy); every 5th step ends an episode
    for row in range(18):  # the same copy's next row is 2 rows on
        same = torch.equal(data["next_obs"][row], data["obs"][row + 2])
        assert same != bool(ends[row]), row  # after an end the next row starts a fresh episode


def test_replay_is_a_ring_and_round_trips():
    buf = TransitionReplay(5, {"x": FieldSpec((2,), torch.float32), "d": FieldSpec((), torch.bool)}, torch.device("cpu"))
    for i in range(3):
        buf.add(x=torch.full((2, 2), float(i)), d=torch.tensor([True, False]))
    assert len(buf) == 5 and buf.position == 1
    assert buf.data["x"][:, 0].tolist() == [2.0, 0.0, 1.0, 1.0, 2.0]  # the third add wrapped round to row 0
    assert buf.sample(7)["x"].shape == (7, 2)
    other = TransitionReplay(5, buf.fields, torch.device("cpu"))
    other.load_state_dict(copy.deepcopy(buf.state_dict()))
    assert torch.equal(other.data["x"], buf.data["x"]) and other.position == 1


def test_resuming_from_a_state_dict_continues_exactly():
    def metrics_after(algo, steps):
        seen = []
        algo.learn(steps, lambda a, m: seen.append(m))
        return seen

    algo, envs = _algo(seed=4)
    algo.begin(envs.reset(seed=4))
    metrics_after(algo, 160)
    saved, rng = copy.deepcopy(algo.state_dict()), rng_state()
    straight = metrics_after(algo, 320)
    resumed, _ = _algo(seed=99)
    resumed.load_state_dict(saved)
    set_rng_state(rng)
    again = metrics_after(resumed, 320)
    assert len(straight) == len(again) > 0
    assert json.dumps(straight) == json.dumps(again)  # NaNs compare equal as text


def test_learn_respects_the_step_budget_and_logs_every_iteration():
    algo, _ = _algo()
    seen = []
    algo.learn(100, lambda a, m: seen.append(m))
    assert [m["env_steps"] for m in seen] == [16, 32, 48, 64, 80, 96, 112]
    assert np.isnan(seen[2]["losses/critic"]) and np.isfinite(seen[3]["losses/critic"])  # starts at 64
    assert seen[-1]["charts/noise_std"] < seen[0]["charts/noise_std"]  # annealing


# --- end to end through the CLI ----------------------------------------------------------------------


def test_marl_train_resume_and_eval_on_simple_adversary(tmp_path):
    runner = CliRunner()
    run = tmp_path / "run"
    args = ["train", "maddpg", "--env", "mpe2:simple_adversary_v3", "--steps", "2000", "--out", str(run),
            "--num-envs", "2", "--eval-episodes", "2", "--set", "learning_starts=500", "--set", "teams=auto"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    for name in ("config.yaml", "metrics.csv", "eval.json", "checkpoints/latest.pt"):
        assert (run / name).is_file(), name
    assert json.loads((run / "eval.json").read_text())["env_steps"] == 2000
    result = runner.invoke(app, ["train", "--resume", str(run), "--steps", "2400"])
    assert result.exit_code == 0 and "env state restored" in result.output, result.output
    out = runner.invoke(app, ["eval", str(run), "--episodes", "2", "--json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    assert data["env_steps"] == 2400 and set(data["per_agent"]) == {"adversary_0", "agent_0", "agent_1"}
    assert set(data["per_team"]) == {"adversary", "agent"}
    table = runner.invoke(app, ["eval", str(run), "--episodes", "2"])
    assert table.exit_code == 0 and "team agent" in table.output, table.output


def test_a_final_observations_mask_is_not_the_next_episodes_first_mask():
    """info_mask_env forbids action 2 at every step, the next episode's first included. At a final observation the
    target actor may take any real action (its legality is unknown; the next row is another episode), never a
    mask copied from the auto-reset row; inside an episode the next step's own mask is kept."""
    algo, envs = _algo(env="tests.fixtures.envs:info_mask_env", kwargs={}, num_envs=1, train_every=20,
                       learning_starts=10**6)
    algo.learn(20)  # two 10-step episodes
    next_mask = algo.replay.data["next_mask"][:20]
    ends = torch.arange(20) % 10 == 9
    assert next_mask[ends].all()
    assert not next_mask[~ends][:, :, 2].any()  # inside an episode: the env's own mask (action 2 never allowed)


def test_a_final_observation_keeps_padded_choices_closed():
    """simple_speaker_listener: the speaker has 3 choices padded to the listener's 5; the padded ones stay shut."""
    algo, envs = _algo(kwargs={"max_cycles": 5}, env="mpe2:simple_speaker_listener_v4",
                       num_envs=1, train_every=5, learning_starts=10**6)
    algo.learn(5)
    final = algo.replay.data["next_mask"][4]
    assert final.tolist() == envs.info.real_actions.tolist() and not final.all()
