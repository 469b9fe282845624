"""PPO clipping: outside [1-eps, 1+eps], in the direction the clip forbids, the gradient is zero."""
import torch

from algorithms.core.ppo_losses import clipped_surrogate, value_loss

EPS = 0.2


def _grad(ratio: float, advantage: float) -> float:
    log_prob = torch.tensor(float(torch.log(torch.tensor(ratio))), requires_grad=True)
    objective, _ = clipped_surrogate(log_prob, torch.tensor(0.0), torch.tensor(advantage), EPS)
    objective.backward()
    return log_prob.grad.item()


def test_no_gradient_where_the_clip_forbids_further_change():
    assert _grad(1.5, +1.0) == 0.0   # ratio already above 1+eps, advantage would push it higher
    assert _grad(0.5, -1.0) == 0.0   # ratio already below 1-eps, advantage would push it lower


def test_gradient_flows_inside_the_range_and_back_toward_it():
    assert _grad(1.1, +1.0) > 0.0    # inside: ordinary policy gradient
    assert _grad(0.9, -1.0) < 0.0
    assert _grad(1.5, -1.0) < 0.0    # outside, but the advantage pulls the ratio back: not clipped
    assert _grad(0.5, +1.0) > 0.0


def test_value_clipping_takes_the_worse_loss():
    old, target = torch.tensor([0.0]), torch.tensor([1.0])
    new = torch.tensor([0.9], requires_grad=True)
    loss = value_loss(new, old, target, EPS, clip=True, huber_delta=0.0)
    # The clipped prediction (0.2) is further from the target, so its loss counts and has no gradient.
    assert torch.isclose(loss, torch.tensor([0.5 * 0.8**2])).all()
    loss.sum().backward()
    assert new.grad.item() == 0.0
