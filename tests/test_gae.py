"""GAE identities (Schulman et al. 2016): lambda=1 is Monte-Carlo, lambda=0 is one-step TD,
truncation bootstraps from the final observation's value and termination does not."""
import pytest
import torch

from algorithms.core.gae import compute_gae

GAMMA = 0.9


def _episode(T=6, seed=0):
    g = torch.Generator().manual_seed(seed)
    rewards = torch.randn(T, 2, generator=g)
    values = torch.randn(T, 2, generator=g)
    return rewards, values


def test_lambda_one_gives_monte_carlo_returns_minus_values():
    rewards, values = _episode()
    T = rewards.shape[0]
    terminated = torch.zeros(T, 2, dtype=torch.bool)
    terminated[-1] = True
    end = terminated.clone()
    next_values = torch.cat([values[1:], torch.zeros(1, 2)])
    adv, ret = compute_gae(rewards, values, next_values, terminated, end, GAMMA, 1.0)
    mc = torch.zeros_like(rewards)
    running = torch.zeros(2)
    for t in reversed(range(T)):
        running = rewards[t] + GAMMA * running
        mc[t] = running
    torch.testing.assert_close(adv, mc - values)
    torch.testing.assert_close(ret, mc)


def test_lambda_zero_gives_one_step_td_errors():
    rewards, values = _episode(seed=1)
    T = rewards.shape[0]
    no = torch.zeros(T, 2, dtype=torch.bool)
    next_values = torch.randn(T, 2)
    adv, _ = compute_gae(rewards, values, next_values, no, no, GAMMA, 0.0)
    torch.testing.assert_close(adv, rewards + GAMMA * next_values - values)


def test_truncation_bootstraps_and_termination_does_not():
    rewards = torch.tensor([[1.0], [1.0]])
    values = torch.tensor([[0.5], [0.5]])
    next_values = torch.tensor([[0.5], [7.0]])  # row 1: value of the final observation after the last step
    end = torch.tensor([[False], [True]])
    truncated_adv, _ = compute_gae(rewards, values, next_values, torch.zeros_like(end), end, GAMMA, 0.95)
    terminated_adv, _ = compute_gae(rewards, values, next_values, end, end, GAMMA, 0.95)
    assert truncated_adv[1, 0].item() == pytest.approx(1.0 + GAMMA * 7.0 - 0.5)
    assert terminated_adv[1, 0].item() == pytest.approx(1.0 - 0.5)


def test_episode_end_stops_the_recursion():
    """An advantage must not include rewards from the next episode in the same rollout."""
    rewards = torch.tensor([[0.0], [0.0], [100.0]])
    values = torch.zeros(3, 1)
    end = torch.tensor([[False], [True], [False]])
    adv, _ = compute_gae(rewards, values, torch.zeros(3, 1), end, end, GAMMA, 1.0)
    assert adv[0, 0].item() == 0.0 and adv[1, 0].item() == 0.0 and adv[2, 0].item() == 100.0
