"""``bits_dropout``: inverted dropout from 16-bit lanes — the drop rate of every lane is p, kept values are
scaled exactly, gradients follow the mask, and an adapted layer's fast path agrees with its reference under
the same seed with this draw."""

from __future__ import annotations

import math

import pytest
import torch

from crabplus.lora import ILoRAConfig, bits_dropout
from crabplus.lora.layer import ILoRALinear


@pytest.mark.unit
def test_drop_rate_is_p_in_every_lane_and_kept_values_are_scaled() -> None:
    torch.manual_seed(0)
    p, n = 0.05, 300_000
    x = torch.ones(n)
    y = bits_dropout(x, p)
    dropped = round(p * 65536) / 65536  # p rounded to the 16-bit grid
    scale = 1 / (1 - dropped)
    values = torch.unique(y).tolist()
    assert len(values) == 2 and values[0] == 0.0 and math.isclose(values[1], scale, rel_tol=1e-6)
    sigma = math.sqrt(p * (1 - p) / (n / 4))
    for lane in range(4):  # element j comes from lane j % 4 of its 64-bit draw (the top one included)
        rate = float((y[lane::4] == 0).float().mean())
        assert abs(rate - p) < 5 * sigma, (lane, rate)
    assert abs(float(y.mean()) - 1.0) < 5 * math.sqrt(p / (1 - p) / n)  # unbiased


@pytest.mark.unit
def test_gradient_is_the_mask_times_the_scale_and_p_zero_is_identity() -> None:
    torch.manual_seed(1)
    x = torch.randn(64, 32, requires_grad=True)
    y = bits_dropout(x, 0.3)
    y.sum().backward()
    kept = y.detach() != 0
    scale = 1 / (1 - round(0.3 * 65536) / 65536)
    assert torch.allclose(x.grad, kept.float() * scale)
    assert torch.allclose(y[kept], x.detach()[kept] * scale)
    z = torch.randn(5)
    assert bits_dropout(z, 0.0) is z


@pytest.mark.unit
@pytest.mark.parametrize("shared", [True, False])
def test_layer_fast_path_matches_reference_with_bits_draw(shared: bool) -> None:
    torch.manual_seed(2)
    layer = ILoRALinear(
        torch.nn.Linear(16, 12), ILoRAConfig(heads=3, rank=4, dropout=0.2, shared_dropout=shared)
    )
    torch.nn.init.normal_(layer.lora_B.weight)  # B = 0 at init would hide the dropout
    layer.dropout_draw = "bits"
    layer.train()
    x = torch.randn(2, 7, 16)
    torch.manual_seed(3)
    fast = layer(x)
    torch.manual_seed(3)
    reference = layer.forward_reference(x)
    assert torch.allclose(fast, reference, atol=1e-5)
    torch.manual_seed(4)
    assert not torch.allclose(layer(x), fast)  # another draw, another mask
