import random

import numpy as np
import pytest
import torch

from crabplus.train.guards import NonFiniteError, NonFiniteGuard, grads_are_finite
from crabplus.train.rng import capture_rng_state, restore_rng_state

pytestmark = pytest.mark.unit


def test_guard_counts_then_raises_with_the_limit_in_the_message():
    guard = NonFiniteGuard(max_skipped_steps=2)
    guard.skip(3, "loss")
    guard.skip(4, "loss")
    assert guard.skipped == 2
    with pytest.raises(NonFiniteError, match="max_skipped_steps=2"):
        guard.skip(5, "gradient")


def test_grads_are_finite_detects_nan_and_inf():
    a, b = torch.nn.Parameter(torch.ones(3)), torch.nn.Parameter(torch.ones(2))
    assert grads_are_finite([a, b])  # no gradients yet
    a.grad = torch.tensor([1.0, 2.0, 3.0])
    assert grads_are_finite([a, b])
    b.grad = torch.tensor([0.0, float("inf")])
    assert not grads_are_finite([a, b])
    b.grad = torch.tensor([float("nan"), 0.0])
    assert not grads_are_finite([a, b])


def test_rng_round_trip_reproduces_every_generator():
    torch.manual_seed(1), np.random.seed(2), random.seed(3)
    state = capture_rng_state()
    first = (torch.rand(3), np.random.rand(3), random.random())
    restore_rng_state(state)
    second = (torch.rand(3), np.random.rand(3), random.random())
    assert torch.equal(first[0], second[0])
    assert np.array_equal(first[1], second[1])
    assert first[2] == second[2]
