"""ILoRALinear against the formula written out in the test."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from crabplus.lora import ILoRAConfig, balance_loss, ilora_layers, inject, routing_inputs

pytestmark = pytest.mark.unit
D_IN, D_OUT, R = 24, 20, 4


def make(heads: int = 3, routing: str = "token", **kw) -> nn.Module:
    holder = nn.ModuleDict({"proj": nn.Linear(D_IN, D_OUT)})
    cfg = ILoRAConfig(heads=heads, rank=R, alpha=10.0, routing=routing, target_modules=["proj"], **kw)
    model = inject(holder, cfg)
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


def topk_by_sort(logits: torch.Tensor, k: int) -> torch.Tensor:
    order = logits.argsort(dim=-1, descending=True)[..., :k]
    kept = torch.gather(logits, -1, order)
    weights = kept.exp() / kept.exp().sum(-1, keepdim=True)
    return torch.zeros_like(logits).scatter(-1, order, weights)


@pytest.mark.parametrize("heads", [1, 3, 4])
@pytest.mark.parametrize("routing", ["token", "topk", "task"])
def test_eval_forward_matches_formula(heads: int, routing: str) -> None:
    model = make(heads, routing, top_k=min(2, heads), num_tasks=3).eval()
    layer = model.proj
    x = torch.randn(2, 5, D_IN)
    task_ids = torch.tensor([2, 0])
    if heads == 1:
        gate = torch.ones(2, 5, 1)
    elif routing == "task":
        table = layer.lora_task_route.weight
        gate = (table.exp() / table.exp().sum(-1, keepdim=True))[task_ids][:, None, :].expand(2, 5, heads)
    else:
        logits = x @ layer.lora_route.weight.T
        gate = logits.softmax(-1) if routing == "token" else topk_by_sort(logits, 2)
    with torch.no_grad(), routing_inputs(task_ids=task_ids):
        want = formula(layer, x, gate)
        assert torch.allclose(layer(x), want, atol=1e-5, rtol=1e-5)
        assert torch.allclose(layer.forward_reference(x), want, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("shared", [True, False])
def test_train_mode_dropout_samples(shared: bool) -> None:
    """Shared: one mask for all heads (Crab+); per head: K masks drawn in head order (Crab)."""
    layer = make(3, dropout=0.5, shared_dropout=shared).proj.train()
    x = torch.randn(3, 4, D_IN)
    torch.manual_seed(9)
    drops = [F.dropout(x, 0.5)] if shared else [F.dropout(x, 0.5) for _ in range(3)]
    drops = drops * 3 if shared else drops
    gate = (x @ layer.lora_route.weight.T).softmax(-1)
    want = formula(layer, x, gate, drops)
    torch.manual_seed(9)
    got = layer(x)
    torch.manual_seed(9)
    ref = layer.forward_reference(x)
    assert torch.allclose(got, want, atol=1e-5) and torch.allclose(ref, want, atol=1e-5)
    if not shared:
        assert not torch.equal(drops[0], drops[1])


def test_crab_init() -> None:
    model = inject(
        nn.ModuleDict({"proj": nn.Linear(D_IN, D_OUT)}), ILoRAConfig(heads=3, rank=R, target_modules=["proj"])
    )
    layer = model.proj
    bound = 1 / math.sqrt(D_IN)
    for w in (layer.lora_A.weight, layer.lora_route.weight):
        assert w.abs().max() <= bound and w.abs().max() > 0.5 * bound
    assert torch.count_nonzero(layer.lora_B.weight) == 0
    x = torch.randn(2, 3, D_IN)
    assert torch.equal(layer(x), F.linear(x, layer.weight, layer.bias))  # adapted == base at step 0


@pytest.mark.parametrize("routing", ["token", "topk", "task"])
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


def test_balance_loss_is_coef_times_cv_squared_of_head_load() -> None:
    holder = nn.ModuleDict({"a": nn.Linear(D_IN, D_OUT), "b": nn.Linear(D_IN, D_IN)})
    cfg = ILoRAConfig(heads=4, rank=R, target_modules=["a", "b"], balance_loss_coef=0.3)
    inject(holder, cfg)
    x = torch.randn(2, 6, D_IN)
    holder.a(x)
    holder.b(x)
    want = 0.0
    for _, layer in ilora_layers(holder):
        load = (x @ layer.lora_route.weight.T).softmax(-1).reshape(-1, 4).mean(0)
        want += 0.3 * (((load - load.mean()) ** 2).sum() / 3) / load.mean() ** 2
    got = balance_loss(holder)
    assert torch.allclose(got, want, atol=1e-6)
    got.backward()  # B_i are still zero: the router learns from the balance loss alone
    assert holder.a.lora_route.weight.grad.abs().sum() > 0
    assert balance_loss(holder) is None  # consumed
    assert balance_loss(make(3)) is None  # disabled by default


def test_task_routing_errors_name_the_cause() -> None:
    layer = make(3, "task", num_tasks=2).proj
    with pytest.raises(RuntimeError, match="routing_inputs"):
        layer(torch.randn(1, 2, D_IN))
    with routing_inputs(task_ids=torch.tensor([5])), pytest.raises(ValueError, match="num_tasks"):
        layer(torch.randn(1, 2, D_IN))


def test_task_ids_follow_folded_encoder_batches() -> None:
    """An encoder input (B·T, L, d) with frames folded sample-major uses each sample's task gate."""
    layer = make(3, "task", num_tasks=3).proj.eval()
    x = torch.randn(2 * 3, 4, D_IN)
    with torch.no_grad(), routing_inputs(task_ids=torch.tensor([1, 2])):
        got = layer(x)
        table = layer.lora_task_route.weight
        want = torch.cat(
            [formula(layer, x[i * 3 : (i + 1) * 3], table[t].softmax(-1)) for i, t in enumerate([1, 2])]
        )
    assert torch.allclose(got, want, atol=1e-5)


def test_bf16_layer_runs_with_fp32_softmax() -> None:
    holder = nn.ModuleDict({"proj": nn.Linear(D_IN, D_OUT)})
    layer = inject(holder, ILoRAConfig(heads=3, rank=R, alpha=10.0, target_modules=["proj"])).proj.eval()
    nn.init.normal_(layer.lora_B.weight, std=0.1)
    x = torch.randn(2, 3, D_IN)
    want = formula(layer, x, (x @ layer.lora_route.weight.T).softmax(-1))  # fp32 reference
    y = layer.to(torch.bfloat16)(x.bfloat16())
    assert y.dtype == torch.bfloat16
    assert torch.allclose(y.float(), want, atol=0.05, rtol=0.02)


def test_unused_params_term_covers_layers_that_did_not_run() -> None:
    """A skipped encoder's adapters get an exact-zero gradient through 0·Σp (DDP keep-alive)."""
    from crabplus.lora import unused_params_term

    holder = nn.ModuleDict({"a": nn.Linear(D_IN, D_OUT), "b": nn.Linear(D_IN, D_OUT)})
    inject(holder, ILoRAConfig(heads=3, rank=R, target_modules=["a", "b"]))
    y = holder.a(torch.randn(2, D_IN)).sum()
    term = unused_params_term(holder)
    assert term is not None and float(term) == 0.0
    (y + term).backward()
    assert all(
        p.grad is not None and torch.count_nonzero(p.grad) == 0
        for p in holder.b.adapter_parameters().values()
    )
    assert all(p.grad is not None for p in holder.a.adapter_parameters().values())
    assert unused_params_term(holder) is not None  # flags were reset: nothing ran since
