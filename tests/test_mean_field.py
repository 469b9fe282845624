"""Mean actions for mean-field MARL against hand-computed examples, with dead agents, teams and a radius."""
from __future__ import annotations

import torch

from algorithms.core.mean_field import mean_actions, neighbour_weights


def test_mean_action_of_live_teammates_by_hand():
    # Five agents, two teams: {0, 1, 2} and {3, 4}; agent 2 is dead. Three actions.
    actions = torch.tensor([[0, 1, 2, 2, 0]])
    alive = torch.tensor([[True, True, False, True, True]])
    teams = torch.tensor([0, 0, 0, 1, 1])
    got = mean_actions(actions, 3, neighbour_weights(alive, teams))
    expected = torch.tensor([[[0, 1, 0],        # agent 0: only agent 1 (agent 2 is dead)
                              [1, 0, 0],        # agent 1: only agent 0
                              [0.5, 0.5, 0],    # agent 2 (dead): its live teammates 0 and 1
                              [1, 0, 0],        # agent 3: agent 4
                              [0, 0, 1]]])      # agent 4: agent 3
    assert torch.allclose(got, expected.float())


def test_no_neighbour_gives_zeros_and_a_radius_limits_the_neighbourhood():
    actions = torch.tensor([[1, 0, 2]])
    alive = torch.tensor([[True, True, True]])
    teams = torch.zeros(3, dtype=torch.long)
    positions = torch.tensor([[[0.0, 0.0], [1.0, 0.0], [5.0, 0.0]]])
    got = mean_actions(actions, 3, neighbour_weights(alive, teams, positions, radius=1.5))
    assert torch.allclose(got[0, 0], torch.tensor([1.0, 0, 0]))   # agent 1 is near agent 0
    assert torch.allclose(got[0, 1], torch.tensor([0, 1.0, 0]))   # agent 0 near agent 1; agent 2 too far
    assert torch.equal(got[0, 2], torch.zeros(3))                 # agent 2 has nobody within 1.5
    everyone = mean_actions(actions, 3, neighbour_weights(alive, teams))
    assert torch.allclose(everyone[0, 2], torch.tensor([0.5, 0.5, 0]))


def test_batched_copies_are_independent():
    actions = torch.tensor([[0, 1], [1, 1]])
    alive = torch.tensor([[True, True], [True, False]])
    got = mean_actions(actions, 2, neighbour_weights(alive, torch.zeros(2, dtype=torch.long)))
    assert torch.allclose(got, torch.tensor([[[0, 1.0], [1.0, 0]], [[0, 0], [0, 1.0]]]))
