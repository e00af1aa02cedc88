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
    assert warmup_cosine(10 + 90 // 4, 100, 0.1, 0.0, True) == pytest.approx(
        0.5 * (1 + math.cos(math.pi * 22 / 90))
    )
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


@pytest.mark.unit
@pytest.mark.parametrize("weight_decay", [0.0, 0.01])
def test_cpu_optimizer_updates_equal_the_per_tensor_adamw_bit_for_bit(weight_decay: float) -> None:
    """build_optimizer's multi-tensor AdamW on CPU against torch's per-tensor loop, over five steps."""
    shapes = [(8, 128), (128, 24), (3, 128), (256, 128), (7,)]

    def params() -> list[torch.nn.Parameter]:
        torch.manual_seed(0)
        return [torch.nn.Parameter(torch.randn(s)) for s in shapes]

    ours, loop = params(), params()
    config = OptimizerConfig(lr=3e-3, weight_decay=weight_decay, warmup_ratio=0.0, schedule="constant")
    optimizer, _ = build_optimizer(ours, config, total_steps=5)
    reference = torch.optim.AdamW(loop, lr=3e-3, weight_decay=weight_decay, foreach=False)
    assert optimizer.defaults["foreach"] is True
    torch.manual_seed(1)
    for _ in range(5):
        grads = [torch.randn(s) for s in shapes]
        for group, opt in ((ours, optimizer), (loop, reference)):
            for p, g in zip(group, grads):
                p.grad = g.clone()
            opt.step()
    assert all(torch.equal(a, b) for a, b in zip(ours, loop))
    assert not torch.equal(ours[0], params()[0])  # the steps did move the weights
