"""ILoRALinear against the formula written out in the test, for every registered routing variant.

    y = x Wᵀ + b + s · Σ_i g_i(x) · B_i A drop_i(x)

The gate g of a built-in variant is written out in ``_variants.py``; see there for test-registered ones.
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from _variants import expected_gate, routing_names, variant_config

from crabplus.lora import balance_loss, ilora_layers, inject, routing_inputs

pytestmark = pytest.mark.unit
D_IN, D_OUT, R = 24, 20, 4
TASKS = torch.tensor([2, 0])


def make(heads: int = 3, routing: str = "token", **kw) -> nn.Module:
    holder = nn.ModuleDict({"proj": nn.Linear(D_IN, D_OUT)})
    model = inject(holder, variant_config(routing, heads, rank=R, alpha=10.0, target_modules=["proj"], **kw))
    with torch.no_grad():
        for p in model.proj.adapter_parameters().values():
            p.normal_()
    return model


def blocks(layer) -> list[torch.Tensor]:
    W = layer.lora_B.weight
    return [W[:, i * R : (i + 1) * R] for i in range(layer.heads)]


def formula(
    layer, x: torch.Tensor, gate: torch.Tensor, drops: list[torch.Tensor] | None = None
) -> torch.Tensor:
    """x Wᵀ + b + s Σ_i g_i B_i A drop_i(x), written independently of the layer code."""
    y = x @ layer.weight.T + layer.bias
    A = layer.lora_A.weight
    for i, B in enumerate(blocks(layer)):
        xi = x if drops is None else drops[i]
        y = y + (10.0 / R) * gate[..., i : i + 1] * (xi @ A.T @ B.T)
    return y


@pytest.mark.parametrize("heads", [1, 3, 4])
@pytest.mark.parametrize("routing", routing_names())
def test_eval_forward_matches_formula(heads: int, routing: str) -> None:
    layer = make(heads, routing).eval().proj
    x = torch.randn(2, 5, D_IN)
    with torch.no_grad(), routing_inputs(task_ids=TASKS):
        gate, _ = expected_gate(layer, x, TASKS)
        want = formula(layer, x, gate)
        assert torch.allclose(layer(x), want, atol=1e-5, rtol=1e-5)
        assert torch.allclose(layer.forward_reference(x), want, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("shared", [True, False])
@pytest.mark.parametrize("routing", routing_names())
def test_train_mode_dropout_samples(shared: bool, routing: str) -> None:
    """Shared: one mask for all heads (Crab+); per head: K masks drawn in head order (Crab)."""
    layer = make(3, routing, dropout=0.5, shared_dropout=shared).proj.train()
    x = torch.randn(2, 4, D_IN)
    with routing_inputs(task_ids=TASKS):
        torch.manual_seed(9)
        drops = [F.dropout(x, 0.5)] if shared else [F.dropout(x, 0.5) for _ in range(3)]
        drops = drops * 3 if shared else drops
        want = formula(layer, x, expected_gate(layer, x, TASKS)[0], drops)
        torch.manual_seed(9)
        got = layer(x)
        torch.manual_seed(9)
        ref = layer.forward_reference(x)
    assert torch.allclose(got, want, atol=1e-5) and torch.allclose(ref, want, atol=1e-5)
    if not shared:
        assert not torch.equal(drops[0], drops[1])


@pytest.mark.parametrize("routing", routing_names())
def test_init_leaves_the_base_model_unchanged(routing: str) -> None:
    """Crab init: A ~ U(±1/√d_in), every B_i = 0, so the adapted layer equals the base at step 0."""
    holder = nn.ModuleDict({"proj": nn.Linear(D_IN, D_OUT)})
    layer = inject(holder, variant_config(routing, 3, rank=R, target_modules=["proj"])).proj
    bound = 1 / math.sqrt(D_IN)
    routers = [m.weight for n, m in layer.gate_modules().items() if n == "lora_route"]
    for w in (layer.lora_A.weight, *routers):  # W_r: the same kaiming_uniform(a=√5) as A
        assert w.abs().max() <= bound and w.abs().max() > 0.5 * bound
    assert torch.count_nonzero(layer.lora_B.weight) == 0
    x = torch.randn(2, 3, D_IN)
    with routing_inputs(task_ids=TASKS):
        assert torch.equal(layer(x), F.linear(x, layer.weight, layer.bias))


@pytest.mark.parametrize("routing", routing_names())
def test_every_adapter_parameter_gets_a_gradient(routing: str) -> None:
    """DDP requirement: router and all heads in the graph even when top-1 routing leaves heads unused."""
    layer = make(5, routing, top_k=1, num_tasks=2).proj.train()
    x = torch.randn(1, 2, D_IN)
    with routing_inputs(task_ids=torch.tensor([1])):
        layer(x).square().sum().backward()
    grads = {n: p.grad for n, p in layer.named_parameters() if p.requires_grad}
    assert set(grads) == set(layer.adapter_parameters()) and all(g is not None for g in grads.values())
    if routing == "topk":  # 2 tokens pick at most 2 of 5 heads: the others get an exact zero gradient
        used = (x @ layer.lora_route.weight.T).argmax(-1).unique()
        for i in set(range(5)) - set(used.tolist()):
            assert torch.count_nonzero(grads["lora_B.weight"][:, i * R : (i + 1) * R]) == 0


@pytest.mark.parametrize("routing", routing_names())
def test_balance_loss_is_coef_times_cv_squared_of_head_load(routing: str) -> None:
    holder = nn.ModuleDict({"a": nn.Linear(D_IN, D_OUT), "b": nn.Linear(D_IN, D_IN)})
    inject(holder, variant_config(routing, 4, rank=R, target_modules=["a", "b"], balance_loss_coef=0.3))
    x = torch.randn(2, 6, D_IN)
    with routing_inputs(task_ids=TASKS):
        holder.a(x)
        holder.b(x)
        want = 0.0
        for _, layer in ilora_layers(holder):
            load = expected_gate(layer, x, TASKS)[1].reshape(-1, 4).mean(0)
            want += 0.3 * (((load - load.mean()) ** 2).sum() / 3) / load.mean() ** 2
    got = balance_loss(holder)
    assert torch.allclose(got, want, atol=1e-6)
    got.backward()  # B_i are still zero: the gate learns from the balance loss alone
    assert any(m.weight.grad.abs().sum() > 0 for m in holder.a.gate_modules().values())
    assert balance_loss(holder) is None  # consumed
    assert balance_loss(make(3, routing)) is None  # disabled by default


@pytest.mark.parametrize("routing", routing_names())
def test_task_ids_follow_folded_encoder_batches(routing: str) -> None:
    """An encoder input (B·T, L, d) with frames folded sample-major uses each sample's task id."""
    layer = make(3, routing).proj.eval()
    x = torch.randn(2 * 3, 4, D_IN)
    with torch.no_grad(), routing_inputs(task_ids=torch.tensor([1, 2])):
        got = layer(x)
    want = []
    for i, t in enumerate([1, 2]):
        part, ids = x[i * 3 : (i + 1) * 3], torch.tensor([t])
        with torch.no_grad(), routing_inputs(task_ids=ids):
            want.append(formula(layer, part, expected_gate(layer, part, ids)[0]))
    assert torch.allclose(got, torch.cat(want), atol=1e-5)


@pytest.mark.parametrize("routing", routing_names())
def test_bf16_layer_runs_with_fp32_softmax(routing: str) -> None:
    layer = make(3, routing).proj.eval()
    with torch.no_grad():
        layer.lora_B.weight.mul_(0.1)
    x = torch.randn(2, 3, D_IN)
    with torch.no_grad(), routing_inputs(task_ids=TASKS):
        want = formula(layer, x, expected_gate(layer, x, TASKS)[0])  # fp32 reference
        y = layer.to(torch.bfloat16)(x.bfloat16())
    assert y.dtype == torch.bfloat16
    assert torch.allclose(y.float(), want, atol=0.05 * want.abs().max().item(), rtol=0.02)


def test_task_routing_errors_name_the_cause() -> None:
    layer = make(3, "task", num_tasks=2).proj
    with pytest.raises(RuntimeError, match="routing_inputs"):
        layer(torch.randn(1, 2, D_IN))
    with routing_inputs(task_ids=torch.tensor([5])), pytest.raises(ValueError, match="num_tasks"):
        layer(torch.randn(1, 2, D_IN))
