"""``crabplus.lora.fused``: the adapter term as one autograd node. Its hand-derived backward passes
``gradcheck`` in float64, and a fused layer gives the autograd path's outputs and gradients (and the
literal head-by-head formula's) under the same dropout draw; layers it does not cover keep the autograd
path."""

from __future__ import annotations

import pytest
import torch

from crabplus.lora import ILoRAConfig
from crabplus.lora import fused as fused_module
from crabplus.lora.fused import adapter_update
from crabplus.lora.layer import ILoRALinear

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("heads", [1, 3])
@pytest.mark.parametrize("dropped", [False, True])
def test_backward_passes_gradcheck(heads: int, dropped: bool) -> None:
    g = torch.Generator().manual_seed(heads + 2 * dropped)
    n, d_in, d_out, rank = 5, 6, 4, 2

    def leaf(*shape):
        return torch.randn(*shape, generator=g, dtype=torch.float64, requires_grad=True)

    x, a, b = leaf(n, d_in), leaf(rank, d_in), leaf(d_out, heads * rank)
    router = leaf(heads, d_in) if heads > 1 else None
    mask = (torch.rand(n, d_in, generator=g, dtype=torch.float64) > 0.3).double() / 0.7 if dropped else None
    w = torch.randn(d_out, d_in, generator=g, dtype=torch.float64)

    def run(x, a, b, *rest):
        return adapter_update(x @ w.t(), x, mask, a, rest[0] if rest else None, b, 1.5)

    inputs = (x, a, b) + ((router,) if router is not None else ())
    assert torch.autograd.gradcheck(run, inputs)


def _layers(heads: int, dropout: float) -> tuple[ILoRALinear, ILoRALinear]:
    """Two copies of one trained-looking layer: the fused one and the autograd one."""
    torch.manual_seed(7)
    base = torch.nn.Linear(16, 12)
    base.weight.requires_grad_(False)
    base.bias.requires_grad_(False)
    layers = []
    for fused in (True, False):
        layer = ILoRALinear(base, ILoRAConfig(heads=heads, rank=4, dropout=dropout, shared_dropout=True))
        torch.manual_seed(8)
        torch.nn.init.normal_(layer.lora_B.weight)  # B = 0 at init would hide the adapter's gradients
        layer.dropout_draw, layer.fused = "bits", fused
        layers.append(layer.train())
    layers[1].load_state_dict(layers[0].state_dict())
    return layers[0], layers[1]


def _outputs_and_grads(layer: ILoRALinear, x: torch.Tensor, seed: int, reference: bool = False):
    x = x.clone().requires_grad_(True)
    torch.manual_seed(seed)
    y = layer.forward_reference(x) if reference else layer(x)
    (y * torch.linspace(-1, 1, y.numel()).view_as(y)).sum().backward()
    grads = {n: p.grad.clone() for n, p in layer.named_parameters() if p.grad is not None}
    layer.zero_grad(set_to_none=True)
    return y.detach(), x.grad, grads


@pytest.mark.parametrize("heads", [1, 3])
@pytest.mark.parametrize("dropout", [0.0, 0.2])
def test_fused_layer_equals_the_autograd_path_and_the_literal_formula(heads: int, dropout: float) -> None:
    fused, plain = _layers(heads, dropout)
    x = torch.randn(2, 9, 16)
    called = []
    original = fused_module._AdapterUpdate.apply
    fused_module._AdapterUpdate.apply = lambda *a: called.append(1) or original(*a)
    try:
        y_fused, gx_fused, grads_fused = _outputs_and_grads(fused, x, seed=3)
    finally:
        fused_module._AdapterUpdate.apply = original
    assert called, "the fused path did not run"
    for other in (_outputs_and_grads(plain, x, seed=3), _outputs_and_grads(plain, x, seed=3, reference=True)):
        y, gx, grads = other
        torch.testing.assert_close(y_fused, y, atol=1e-6, rtol=1e-5)
        torch.testing.assert_close(gx_fused, gx, atol=1e-5, rtol=1e-5)
        assert (
            sorted(grads_fused) == sorted(grads) == sorted(n for n, _ in fused.adapter_parameters().items())
        )
        for name in grads:
            torch.testing.assert_close(grads_fused[name], grads[name], atol=1e-4, rtol=1e-5, msg=name)


@pytest.mark.parametrize(
    "change",
    [
        "topk routing",
        "per-head dropout",
        "bernoulli draw",
        "trainable weight",
        "routing stats",
        "autocast",
        "off",
    ],
)
def test_layers_it_does_not_cover_keep_the_autograd_path(change: str, monkeypatch) -> None:
    config = dict(heads=3, rank=4, dropout=0.2, shared_dropout=True)
    if change == "topk routing":
        config.update(routing="topk", top_k=1)
    if change == "per-head dropout":
        config["shared_dropout"] = False
    base = torch.nn.Linear(16, 12)
    base.weight.requires_grad_(change == "trainable weight")
    base.bias.requires_grad_(False)
    layer = ILoRALinear(base, ILoRAConfig(**config)).train()
    layer.dropout_draw = "bernoulli" if change == "bernoulli draw" else "bits"
    layer.fused = change != "off"
    if change == "routing stats":
        layer.collector = type("Collector", (), {"observe": lambda *a: None})()
    monkeypatch.setattr(fused_module._AdapterUpdate, "apply", lambda *a: pytest.fail("fused path ran"))
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=change == "autocast"):
        y = layer(torch.randn(3, 16))
    y.float().sum().backward()
    assert layer.lora_A.weight.grad is not None


def test_an_all_bf16_layer_runs_fused_and_matches_the_autograd_path() -> None:
    """bf16 weights and inputs (``precision: bf16-true``, no autocast): every operand shares one dtype, so the
    fused node runs; it agrees with the autograd path to bf16 precision."""
    fused, plain = _layers(heads=3, dropout=0.2)
    fused.to(torch.bfloat16), plain.to(torch.bfloat16)
    assert fused._fusable() and not plain._fusable()
    x = torch.randn(2, 9, 16, dtype=torch.bfloat16)
    y_fused, gx_fused, grads_fused = _outputs_and_grads(fused, x, seed=5)
    y, gx, grads = _outputs_and_grads(plain, x, seed=5)
    assert y_fused.dtype == torch.bfloat16 and gx_fused.dtype == torch.bfloat16
    torch.testing.assert_close(y_fused.float(), y.float(), atol=0.1, rtol=0.02)
    torch.testing.assert_close(gx_fused.float(), gx.float(), atol=0.1, rtol=0.02)
    for name in grads:
        scale = float(grads[name].float().abs().max())
        torch.testing.assert_close(
            grads_fused[name].float(), grads[name].float(), atol=0.02 * scale, rtol=0.02
        )


def test_a_meta_layer_runs_either_path() -> None:
    """``crabplus plan`` runs layers on the meta device, which has no autocast to ask about: both the fused
    and the autograd path run there and save the same tensors' shapes."""
    for fused in (True, False):
        layer = _layers(heads=3, dropout=0.2)[0].to("meta")
        layer.fused = fused
        x = torch.empty(4, 16, device="meta", requires_grad=True)
        assert layer(x).shape == (4, 12)
