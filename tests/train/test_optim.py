import math

import pytest
import torch

from crabplus.train.optim import OptimizerConfig, build_optimizer, warmup_cosine

pytestmark = pytest.mark.unit


def test_warmup_then_cosine_by_hand():
    # total 100 steps, warm-up 10% -> 10 steps: step 0 -> 1/10, step 9 -> 10/10
    assert warmup_cosine(0, 100, 0.1, 0.0, True) == pytest.approx(0.1)
    assert warmup_cosine(9, 100, 0.1, 0.0, True) == pytest.approx(1.0)
    # step 10 starts the cosine at progress 0 -> 1.0; halfway (step 55) -> 0.5; end -> min ratio
    assert warmup_cosine(10, 100, 0.1, 0.0, True) == pytest.approx(1.0)
    assert warmup_cosine(55, 100, 0.1, 0.0, True) == pytest.approx(0.5)
    assert warmup_cosine(100, 100, 0.1, 0.2, True) == pytest.approx(0.2)
    # progress 0.25 -> 0.5 * (1 + cos(pi/4))
    assert warmup_cosine(10 + 90 // 4, 100, 0.1, 0.0, True) == pytest.approx(0.5 * (1 + math.cos(math.pi * 22 / 90)))
    assert warmup_cosine(80, 100, 0.1, 0.0, False) == 1.0


def test_build_optimizer_steps_schedule_and_rejects_empty():
    w = torch.nn.Parameter(torch.ones(2))
    opt, sched = build_optimizer([w], OptimizerConfig(lr=1.0, warmup_ratio=0.5), total_steps=4)
    assert opt.param_groups[0]["lr"] == pytest.approx(0.5)  # step 0 of a 2-step warm-up
    sched.step()
    assert opt.param_groups[0]["lr"] == pytest.approx(1.0)
    frozen = torch.nn.Parameter(torch.ones(1), requires_grad=False)
    with pytest.raises(ValueError, match="no trainable parameters"):
        build_optimizer([frozen], OptimizerConfig(), 10)
    with pytest.raises(ValueError, match="optimizer.schedule"):
        build_optimizer([w], OptimizerConfig(schedule="linear"), 10)
