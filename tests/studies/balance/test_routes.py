"""Route (a) in-graph `grad_scale` vs route (b) `.grad` scaling, and gradient accumulation."""

import pytest
import torch

from crabplus.balance import MLB, ForwardOutputs, branch_from_logits
from crabplus.studies.balance import FUSIONS, AVClassifier

pytestmark = pytest.mark.unit


def _batch(b=6, seed=0):
    g = torch.Generator().manual_seed(seed)
    return {
        "audio": torch.randn(b, 8, 12, generator=g),
        "video": torch.rand(b, 2, 3, 8, 8, generator=g),
        "label": torch.randint(0, 4, (b,), generator=g),
    }


def _grads(model, fusion, route, batches, scale=1.0):
    """Backward every micro-batch (loss * scale), apply the strategy, return all grads by name."""
    mlb = MLB(alpha=2.0, beta_max=4.0, route=route)
    model.zero_grad()
    for batch in batches:

        def fwd(bt):
            out = model(bt["audio"], bt["video"], mlb.handles if route == "graph" else None)
            y = bt["label"]
            return ForwardOutputs(
                fused=branch_from_logits(out.fused, y),
                unimodal={m: branch_from_logits(z, y) for m, z in out.unimodal.items()},
            )

        (mlb.losses(fwd, batch)["loss"] * scale).backward()
    mlb.on_before_optimizer_step(model.modality_parameters())
    return {n: p.grad.clone() for n, p in model.named_parameters()}, mlb.coefficients


def _close(actual, expected, name):
    """float32 agreement relative to the tensor's scale (different summation orders)."""
    err = (actual - expected).abs().max().item()
    assert err <= 1e-5 * max(expected.abs().max().item(), 1e-3), f"{name}: max error {err}"


@pytest.mark.parametrize("fusion", FUSIONS)
def test_graph_route_equals_grad_route(fusion):
    torch.manual_seed(0)
    model = AVClassifier(num_classes=4, dim=8, channels=4, fusion=fusion)
    plain, _ = _grads(model, fusion, "grad", [_batch()])
    graph, k_graph = _grads(model, fusion, "graph", [_batch()])
    _, k_grad = _grads(model, fusion, "grad", [_batch()])
    assert k_graph == pytest.approx(k_grad) and k_grad["audio"] != pytest.approx(1.0)
    for name in plain:
        _close(graph[name], plain[name], name)
    # shared fusion parameters are never scaled: compare with an unbalanced backward
    owned = {id(p) for ps in model.modality_parameters().values() for p in ps}
    shared = [n for n, p in model.named_parameters() if id(p) not in owned]
    assert shared or fusion == "late"


@pytest.mark.parametrize("route", ["grad", "graph"])
def test_accumulation_two_equals_one_on_duplicated_batch(route):
    torch.manual_seed(0)
    model = AVClassifier(num_classes=4, dim=8, channels=4, fusion="concat")
    x = _batch()
    doubled = {k: torch.cat([v, v]) for k, v in x.items()}
    one, k_one = _grads(model, "concat", route, [doubled])
    two, k_two = _grads(model, "concat", route, [x, x], scale=0.5)
    assert k_one == pytest.approx(k_two)
    for name in one:
        _close(two[name], one[name], name)
