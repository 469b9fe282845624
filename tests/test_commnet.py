"""CommNet mechanics: the message channel (equivariance, self-exclusion, departed agents), what comm_steps
removes, the message dump, determinism, resume, and the CLI."""
import json

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from advisor.cli import app
from algorithms.errors import MARLError
from algorithms import make, make_config
from algorithms.commnet import CommNetTorso, mean_of_others
from algorithms.training.commnet_messages import dump_messages
from algorithms.core.env_registry import make_vec_env
from tests.helpers import SPREAD, SPREAD_KWARGS

SL = "mpe2:simple_speaker_listener_v4"
REF = "mpe2:simple_reference_v3"


def _algo(env=SPREAD, kwargs=SPREAD_KWARGS, **overrides):
    torch.manual_seed(0)
    envs = make_vec_env(env, kwargs, num_envs=2)
    return make("commnet", envs, **overrides), envs


# ------------------------------------------------------------------ the communication module


def test_permuting_the_agents_permutes_the_outputs():
    """Equivariance holds for the module given per-agent inputs: the agent-id one-hot is part of each
    agent's input row, so permuting rows (ids included) permutes the outputs. The policy as a whole tells
    agents apart by their ids, which is the point of the id input under parameter sharing."""
    torch.manual_seed(0)
    n, features = 4, 7
    module = CommNetTorso(features + n, 16, 2, recurrent=False, comm_steps=2)
    obs = torch.randn(5, n, features)
    alive = torch.tensor([1.0, 1.0, 0.0, 1.0]).expand(5, n)
    x = torch.cat([obs, torch.eye(n).expand(5, n, n), alive.unsqueeze(-1)], dim=-1)  # [B, N, obs + id + alive]
    perm = torch.tensor([2, 0, 3, 1])
    out, _ = module(x, None)
    out_perm, _ = module(x[:, perm], None)
    torch.testing.assert_close(out_perm, out[:, perm], rtol=1e-5, atol=1e-5)
    # and over a sequence with a GRU across time
    module = CommNetTorso(features + n, 16, 1, recurrent=True, comm_steps=1)
    seq = x.unsqueeze(1).expand(5, 3, n, -1)  # [T, B, N, in]
    starts = torch.zeros(5, 3, n, dtype=torch.bool)
    h0 = torch.zeros(3, n, 16)
    torch.testing.assert_close(module.forward_sequence(seq[:, :, perm], h0, starts),
                               module.forward_sequence(seq, h0, starts)[:, :, perm], rtol=1e-5, atol=1e-5)


def test_an_agents_message_is_the_mean_of_the_others_and_excludes_itself():
    h = torch.randn(2, 3, 5)
    alive = torch.ones(2, 3, dtype=torch.bool)
    c = mean_of_others(h, alive)
    torch.testing.assert_close(c[:, 0], (h[:, 1] + h[:, 2]) / 2)
    changed = h.clone()
    changed[:, 0] += 10.0
    c2 = mean_of_others(changed, alive)
    torch.testing.assert_close(c2[:, 0], c[:, 0])  # agent 0 does not hear itself
    assert not torch.allclose(c2[:, 1], c[:, 1])


def test_a_departed_agent_sends_nothing_and_a_lone_agent_hears_zeros():
    h = torch.randn(2, 3, 5)
    alive = torch.tensor([[True, False, True], [True, False, False]])
    c = mean_of_others(h, alive)
    torch.testing.assert_close(c[0, 0], h[0, 2])            # agent 1 has left: only agent 2 is heard
    torch.testing.assert_close(c[1, 0], torch.zeros(5))     # no live peer: zeros
    changed = h.clone()
    changed[:, 1] += 10.0
    torch.testing.assert_close(mean_of_others(changed, alive)[:, [0, 2]], c[:, [0, 2]])


def test_a_departed_agents_observation_reaches_nobody_through_the_policy():
    algo, envs = _algo(comm_steps=2)
    step = envs.reset(seed=0)
    step.alive[:, 1] = False
    obs, _, mask, alive = algo._tensors(step)
    changed = obs.clone()
    changed[:, 1] += 5.0
    before = algo.policy(obs, mask, alive=alive)[0].dist.logits
    after = algo.policy(changed, mask, alive=alive)[0].dist.logits
    torch.testing.assert_close(before[:, [0, 2]], after[:, [0, 2]], rtol=0, atol=0)


# ------------------------------------------------------------------ what comm_steps removes


def _policy_params(algo, obs, mask, h):
    dist = algo.policy(obs, mask, h)[0]
    return dist.dist.mean if algo.continuous else dist.dist.logits


@pytest.mark.parametrize("recurrent", [False, True])
@pytest.mark.parametrize("continuous", [False, True])
def test_without_communication_agent_i_ignores_agent_js_observation_and_with_it_does_not(recurrent, continuous):
    for comm_steps in (0, 2):
        algo, envs = _algo(kwargs={**SPREAD_KWARGS, "continuous_actions": continuous}, comm_steps=comm_steps,
                           recurrent=recurrent)
        obs, _, mask, _ = algo._tensors(envs.reset(seed=0))
        memory = algo.initial_memory(2)
        h = memory[0] if memory is not None else None
        changed = obs.clone()
        changed[:, 1] += torch.randn_like(changed[:, 1]) * 5.0  # agent 1 sees something else
        before, after = _policy_params(algo, obs, mask, h), _policy_params(algo, changed, mask, h)
        others_same = torch.equal(before[:, [0, 2]], after[:, [0, 2]])
        assert others_same == (comm_steps == 0), (comm_steps, recurrent, continuous)
        assert not torch.allclose(before[:, 1], after[:, 1])
        # and the gradient view: agent 0's output has a gradient w.r.t. agent 1's input only with messages
        x = obs.clone().requires_grad_(True)
        _policy_params(algo, x, mask, h)[:, 0].sum().backward()
        assert (x.grad[:, 1].abs().sum() > 0) == (comm_steps > 0)


# ------------------------------------------------------------------ config, determinism, resume


def test_config_is_typed_and_refuses_what_cannot_work():
    cfg = make_config("commnet", {"comm_steps": "0", "recurrent": "true"})
    assert (cfg.comm_steps, cfg.recurrent, cfg.centralised_critic) == (0, True, False)
    with pytest.raises(MARLError, match="comm_steps"):
        make_config("commnet", {"comm_steps": "-1"})
    with pytest.raises(MARLError, match="shares its parameters"):
        make_config("commnet", {"share_parameters": "false"})
    with pytest.raises(MARLError, match="valid keys: rollout_steps"):
        make_config("commnet", {"comm_rounds": "2"})


def test_centralised_critic_option_reads_the_state():
    algo, _ = _algo(centralised_critic=True)
    first = algo.critic.torso.mlp.net[1].weight  # MAPPO's plain critic on the 54-dim state + 3 ids
    assert first.shape[0] == 54 + 3
    algo.begin(algo.envs.reset(seed=0))
    batch, _ = algo.collect()
    assert np.isfinite(list(algo.update(batch).values())).all()


@pytest.mark.parametrize("continuous", [False, True])
def test_same_seed_same_updates(continuous):
    def run():
        algo, envs = _algo(kwargs={**SPREAD_KWARGS, "continuous_actions": continuous}, rollout_steps=10, epochs=2,
                           recurrent=True)
        algo.begin(envs.reset(seed=3))
        batch, _ = algo.collect()
        return algo.update(batch), batch["action"]
    (m1, a1), (m2, a2) = run(), run()
    assert m1 == m2 and torch.equal(a1, a2) and np.isfinite(list(m1.values())).all()


# ------------------------------------------------------------------ the message dump


@pytest.mark.parametrize("comm_steps", [0, 2])
def test_dump_messages_writes_the_documented_layout(tmp_path, comm_steps):
    algo, _ = _algo(env=SL, kwargs={}, comm_steps=comm_steps, hidden_size=16)
    path = tmp_path / "sub" / "messages.npz"
    summary = dump_messages(algo, SL, {}, episodes=4, seed=0, path=path)
    data = np.load(path)
    s = summary["steps"]
    assert s == 4 * 25 and summary["episodes"] == 4 and summary["comm_steps"] == comm_steps
    assert data["sent"].shape == data["received"].shape == (s, 2, comm_steps, 16)
    assert data["alive"].shape == (s, 2) and data["obs"].shape == (s, 2, 11) and data["action"].shape == (s, 2)
    assert list(np.unique(data["episode"])) == [0, 1, 2, 3] and data["t"].max() == 24
    assert (data["label"][:, 1] == -1).all() and set(np.unique(data["label"][:, 0])) <= {0, 1, 2}
    if comm_steps:  # with two agents, the listener hears exactly what the speaker sends
        np.testing.assert_allclose(data["received"][:, 1], data["sent"][:, 0], atol=1e-6)
        # By hand from the file: between-label sum of squares over the total, of what the speaker sent per round
        # (round 1 reads only the speaker's goal colour, so it is all label: 1; round 2 is not)
        label = data["label"][:, 0]
        for r, speaker in enumerate(summary["messages"]["speaker_0"]):
            msg = data["sent"][:, 0, r].astype(np.float64)
            centre = msg.mean(0)
            between = sum((label == c).sum() * ((msg[label == c].mean(0) - centre) ** 2).sum()
                          for c in np.unique(label))
            assert speaker["explained_by_hidden"] == pytest.approx(between / ((msg - centre) ** 2).sum(), rel=1e-6)
            assert speaker["chance"] == pytest.approx(np.bincount(label).max() / len(label))
            assert 0.0 <= speaker["decoding_accuracy"] <= 1.0
        assert len(summary["messages"]["listener_0"]) == comm_steps and summary["influence"]["speaker_0"] > 0
    else:  # no channel: showing the speaker another goal cannot move the listener
        assert summary["messages"]["speaker_0"] == [] and summary["influence"] == {"speaker_0": 0.0}


def test_the_message_statistics_by_hand():
    """_variation on constructed messages: 8 live steps of 4 episodes, the speaker's label alternating 0, 1."""
    from algorithms.training.commnet_messages import _variation

    episode = np.array([0, 0, 1, 1, 2, 2, 3, 3, 3])
    label = np.array([[0, -1], [1, -1], [0, -1], [1, -1], [0, -1], [1, -1], [0, -1], [1, -1], [0, -1]])
    alive = np.ones((9, 2), bool)
    alive[8, 0] = False                          # the speaker is out at the last step: its message is left out
    sent = np.zeros((9, 2, 2, 1), np.float32)    # [S, N, R=2, H=1]
    # Round 1: +-1 by label, +-0.25 around it: between-label variance 1 of total 1 + 0.25^2; the centroids of
    # episodes 0 and 2 (-1.25, 0.75) decode episodes 1 and 3 (-0.75, 1.25) without a mistake.
    sent[:8, 0, 0, 0] = [-1.25, 0.75, -0.75, 1.25] * 2
    # Round 2: the label's sign flips between the even and the odd episodes: no between-label variance, and
    # centroids fitted on even episodes decode every odd one wrongly (0, where fitting on all would give 0.5).
    sent[:8, 0, 1, 0] = [1, -1, -1, 1] * 2
    sent[8, 0] = 100.0
    sent[:, 1, 0, 0] = [0, 2, 0, 2, 0, 2, 0, 2, 0]  # the listener: no label known, only its variance
    out = _variation({"episode": episode, "label": label, "alive": alive, "sent": sent}, ("speaker_0", "listener_0"))
    first, second = out["speaker_0"]
    assert first["round"] == 1 and first["total_variance"] == pytest.approx(1.0625)
    assert first["explained_by_hidden"] == pytest.approx(1 / 1.0625) and first["decoding_accuracy"] == 1.0
    assert first["chance"] == 0.5
    assert second["total_variance"] == pytest.approx(1.0) and second["explained_by_hidden"] == pytest.approx(0.0)
    assert second["decoding_accuracy"] == 0.0
    assert out["listener_0"] == [{"round": 1, "total_variance": pytest.approx(80 / 81)},  # 5 zeros, 4 twos
                                 {"round": 2, "total_variance": 0.0}]


def test_dump_messages_refuses_other_algorithms_and_too_few_episodes(tmp_path):
    envs = make_vec_env(SL, {}, num_envs=1)
    with pytest.raises(MARLError, match="no learnt message channel"):
        dump_messages(make("mappo", envs), SL, {}, 4, 0, tmp_path / "m.npz")
    algo, _ = _algo(env=SL, kwargs={})
    with pytest.raises(MARLError, match="at least 2 episodes"):
        dump_messages(algo, SL, {}, 1, 0, tmp_path / "m.npz")
    with pytest.raises(MARLError, match="does not match"):
        dump_messages(algo, SPREAD, SPREAD_KWARGS, 2, 0, tmp_path / "m.npz")
    with pytest.raises(MARLError, match="cannot write"):
        dump_messages(algo, SL, {}, 2, 0, tmp_path)  # a directory


# ------------------------------------------------------------------ the CLI


def test_cli_trains_and_evaluates_commnet_on_simple_reference(tmp_path):
    runner = CliRunner()
    run = tmp_path / "run"
    out = runner.invoke(app, ["train", "commnet", "--env", REF, "--num-envs", "2", "--steps", "100",
                              "--set", "rollout_steps=25", "--set", "epochs=1", "--set", "comm_steps=1",
                              "--eval-episodes", "2", "--out", str(run)])
    assert out.exit_code == 0, out.output
    out = runner.invoke(app, ["eval", str(run), "--episodes", "2", "--json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    assert data["episodes"] == 2 and set(data["per_agent"]) == {"agent_0", "agent_1"}
    bad = runner.invoke(app, ["train", "commnet", "--env", REF, "--set", "comm_steps=-2", "--out", str(tmp_path / "b")])
    assert bad.exit_code == 2 and "comm_steps" in bad.output and "Traceback" not in bad.output


def test_cli_eval_dumps_messages_and_refuses_a_run_without_a_channel(tmp_path):
    runner = CliRunner()
    run = tmp_path / "run"
    args = ["--num-envs", "2", "--steps", "50", "--set", "rollout_steps=25", "--set", "epochs=1", "--eval-episodes", "2"]
    assert runner.invoke(app, ["train", "commnet", "--env", SL, *args, "--out", str(run)]).exit_code == 0
    dump = tmp_path / "m" / "messages.npz"
    out = runner.invoke(app, ["eval", str(run), "--episodes", "2", "--messages", str(dump), "--json"])
    assert out.exit_code == 0, out.output
    summary = json.loads(out.output)["messages"]
    assert summary["steps"] == 2 * 25 and np.load(dump)["sent"].shape[0] == 50
    table = runner.invoke(app, ["eval", str(run), "--episodes", "2", "--messages", str(dump)])
    unwrapped = table.output.replace("\n", "")  # a long path may be folded at any column
    assert table.exit_code == 0 and "influence" in unwrapped and str(dump.name) in unwrapped, table.output
    mappo = tmp_path / "mappo"
    assert runner.invoke(app, ["train", "mappo", "--env", SL, *args, "--out", str(mappo)]).exit_code == 0
    refused = runner.invoke(app, ["eval", str(mappo), "--episodes", "2", "--messages", str(tmp_path / "x.npz")])
    assert refused.exit_code == 2 and "message channel" in refused.output and "Traceback" not in refused.output
    assert not (tmp_path / "x.npz").exists()
