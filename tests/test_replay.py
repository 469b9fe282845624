"""Episode replay: padding masks, sample shapes, capacity eviction, recency-prioritised probabilities."""
import numpy as np
import pytest
import torch

from algorithms.core.replay import EpisodeBuilder, EpisodeReplay, pad_episodes


def episode(length: int, tag: float, n: int = 2) -> dict[str, np.ndarray]:
    """`length` transitions; every value is `tag` so tests can tell episodes apart."""
    return {"obs": np.full((length + 1, n, 3), tag, np.float32), "action": np.full((length, n), int(tag), np.int64),
            "reward": np.full((length, n), tag, np.float32)}


def test_padding_masks_and_shapes():
    batch = pad_episodes([episode(2, 1.0), episode(5, 2.0), episode(1, 3.0)])
    assert batch["obs"].shape == (3, 6, 2, 3) and batch["action"].shape == (3, 5, 2)
    assert batch["filled"].tolist() == [[True, True, False, False, False], [True] * 5,
                                        [True, False, False, False, False]]
    # Real rows keep their values (the per-state field keeps its extra final row); padding is zero.
    assert (batch["obs"][0, :3] == 1.0).all() and (batch["obs"][0, 3:] == 0.0).all()
    assert (batch["reward"][2, 1:] == 0).all() and (batch["reward"][2, 0] == 3.0).all()


def test_episodes_of_one_length_are_stacked_as_the_padded_path_would():
    same = pad_episodes([episode(3, 1.0), episode(3, 2.0)])
    padded = pad_episodes([episode(3, 1.0), episode(3, 2.0), episode(1, 3.0)])  # longest is 3 here too
    assert same.keys() == padded.keys() and same["filled"].all()
    for key in same:
        assert same[key].dtype == padded[key].dtype and (same[key] == padded[key][:2]).all(), key


def test_sample_shapes_and_distinct_episodes():
    torch.manual_seed(0)
    replay = EpisodeReplay(capacity=10)
    for i in range(6):
        replay.add(episode(3 + i % 2, float(i)))
    batch = replay.sample(4)
    assert batch["obs"].shape == (4, 5, 2, 3) and batch["filled"].shape == (4, 4)
    tags = batch["obs"][:, 0, 0, 0]
    assert len(set(tags.tolist())) == 4  # without replacement while the buffer holds enough
    assert replay.sample(20)["obs"].shape[0] == 20  # with replacement beyond that


def test_capacity_evicts_the_oldest_first():
    replay = EpisodeReplay(capacity=3)
    for i in range(5):
        replay.add(episode(1, float(i)))
    assert len(replay) == 3
    assert sorted(e["obs"][0, 0, 0] for e in replay.episodes) == [2.0, 3.0, 4.0]
    replay.add(episode(1, 5.0))
    assert sorted(e["obs"][0, 0, 0] for e in replay.episodes) == [3.0, 4.0, 5.0]


@pytest.mark.parametrize("half_life", [0.0, 1.0, 7.5])
def test_probabilities_sum_to_one_and_favour_recent_episodes(half_life):
    replay = EpisodeReplay(capacity=20, half_life=half_life)
    for i in range(35):  # wraps around the ring, so slot order is not age order
        replay.add(episode(1, float(i)))
    p = replay.probabilities()
    assert p.shape == (20,) and np.isclose(p.sum(), 1.0) and (p > 0).all()
    tags = np.array([e["obs"][0, 0, 0] for e in replay.episodes])
    by_age = p[np.argsort(-tags)]  # newest first
    if half_life == 0:
        assert np.allclose(p, 1 / 20)
    else:
        assert np.all(np.diff(by_age) < 0)  # strictly older -> strictly less likely
        assert np.isclose(by_age[0] / by_age[10], 2 ** (10 / half_life))  # halves every half_life episodes


def test_prioritised_sampling_follows_the_probabilities():
    torch.manual_seed(0)
    replay = EpisodeReplay(capacity=10, half_life=2.0)
    for i in range(10):
        replay.add(episode(1, float(i)))
    draws = np.concatenate([replay.sample(1)["obs"][:, 0, 0, 0] for _ in range(4000)])
    share_newest = np.mean(draws == 9.0)
    expected = replay.probabilities()[9]
    assert abs(share_newest - expected) < 0.03 and expected > 0.25  # newest ~29%, uniform would be 10%


def test_builder_closes_episodes_per_copy_with_the_final_observation():
    builder = EpisodeBuilder(num_envs=2, max_len=3)
    for t in range(2):
        builder.add({"obs": np.full((2, 1), t, np.float32)}, {"reward": np.array([10.0 + t, 20.0 + t])})
    done = builder.finish(np.array([False, True]), {"obs": np.array([[-1.0], [99.0]], np.float32)})
    assert len(done) == 1
    assert done[0]["obs"].ravel().tolist() == [0.0, 1.0, 99.0] and done[0]["reward"].tolist() == [20.0, 21.0]
    builder.add({"obs": np.full((2, 1), 2, np.float32)}, {"reward": np.array([12.0, 30.0])})
    assert builder.full().tolist() == [True, False]
    with pytest.raises(RuntimeError, match="max_len"):
        builder.add({"obs": np.zeros((2, 1), np.float32)}, {"reward": np.zeros(2)})
    chunk = builder.finish(builder.full(), {"obs": np.array([[3.0], [0.0]], np.float32)})[0]
    assert chunk["obs"].ravel().tolist() == [0.0, 1.0, 2.0, 3.0] and chunk["reward"].tolist() == [10.0, 11.0, 12.0]
