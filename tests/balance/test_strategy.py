"""Strategies: loss assembly and one hand-worked modulation step (hand-worked numbers)."""

import math

import pytest
import torch
from torch import nn

from crabplus.balance import (
    MLB,
    OGMGE,
    ForwardOutputs,
    FusedOnly,
    MultiLoss,
    PhaseOut,
    branch_from_logits,
    scale_learning_rates,
)

pytestmark = pytest.mark.unit


def _logits_for(p_true: float) -> torch.Tensor:
    """(1, 2) logits whose softmax puts p_true on class 0."""
    return torch.log(torch.tensor([[p_true, 1 - p_true]]))


def _outputs(pf: float, pa: float, pv: float) -> ForwardOutputs:
    y = torch.tensor([0])
    return ForwardOutputs(
        fused=branch_from_logits(_logits_for(pf), y),
        unimodal={"audio": branch_from_logits(_logits_for(pa), y), "video": branch_from_logits(_logits_for(pv), y)},
    )


def _params() -> dict[str, list[nn.Parameter]]:
    params = {m: [nn.Parameter(torch.zeros(3))] for m in ("audio", "video")}
    for ps in params.values():
        ps[0].grad = torch.ones(3)
    return params


def test_losses_fused_only_and_multiloss_hand_values():
    out = _outputs(0.5, 0.6, 0.3)
    fused_only = FusedOnly().combine(out)
    assert fused_only["loss"].item() == pytest.approx(-math.log(0.5))
    multi = MultiLoss(fused_weight=1.0, unimodal_weight=0.5).combine(out)
    assert multi["loss"].item() == pytest.approx(-math.log(0.5) - 0.5 * math.log(0.6) - 0.5 * math.log(0.3))
    assert multi["audio"].item() == pytest.approx(-math.log(0.6))
    assert not FusedOnly().needs_unimodal and MultiLoss().needs_unimodal and MLB().needs_unimodal


def test_mlb_step_accelerates_video_and_decelerates_audio_gradients():
    mlb = MLB(alpha=0.5, beta_max=10.0)
    parts = mlb.combine(_outputs(0.5, 0.6, 0.3), step=0)
    assert parts["loss"].item() == pytest.approx(-math.log(0.5 * 0.6 * 0.3))
    params = _params()
    mlb.on_before_optimizer_step(params, step=0)
    assert mlb.coefficients["audio"] == pytest.approx(0.755, abs=1e-3)  # 1 + tanh(-0.25)
    assert mlb.coefficients["video"] == pytest.approx(5.159, abs=1e-3)  # 1 + 9 tanh(0.5)
    assert params["audio"][0].grad.tolist() == pytest.approx([1 + math.tanh(-0.25)] * 3, abs=1e-6)
    assert params["video"][0].grad.tolist() == pytest.approx([1 + 9 * math.tanh(0.5)] * 3, abs=1e-5)
    logs = mlb.log_dict()
    assert logs["balance/coef/video"] == pytest.approx(5.159, abs=1e-3)
    assert logs["balance/score/audio"] == pytest.approx(0.6) and logs["balance/ratio/video"] == pytest.approx(2.0)


def test_mlb_accumulates_scores_over_micro_batches():
    # two micro-batches (s_a: 0.8 then 0.4, s_v: 0.3 then 0.3) -> pooled s_a = 0.6, s_v = 0.3.
    mlb = MLB(alpha=0.5, beta_max=10.0)
    mlb.combine(_outputs(0.5, 0.8, 0.3))
    mlb.combine(_outputs(0.5, 0.4, 0.3))
    mlb.on_before_optimizer_step(_params(), step=0)
    assert mlb.scores["audio"] == pytest.approx(0.6)
    assert mlb.coefficients["video"] == pytest.approx(1 + 9 * math.tanh(0.5), abs=1e-6)


def test_phase_out_window_switches_modulation_off():
    mlb = MLB(alpha=0.5, beta_max=10.0, phase_out=PhaseOut(end_step=10, ramp_steps=4))
    mlb.combine(_outputs(0.5, 0.6, 0.3))
    mlb.on_before_optimizer_step(_params(), step=8)  # lambda = 0.5
    assert mlb.coefficients["video"] == pytest.approx(1 + 0.5 * 9 * math.tanh(0.5), abs=1e-6)
    mlb.combine(_outputs(0.5, 0.6, 0.3))
    params = _params()
    mlb.on_before_optimizer_step(params, step=10)
    assert mlb.coefficients == {"audio": 1.0, "video": 1.0}
    assert params["video"][0].grad.tolist() == [1.0, 1.0, 1.0]


def test_ogm_ge_uses_slices_decelerates_only_and_adds_seeded_noise():
    y = torch.tensor([0])
    out = _outputs(0.5, 0.99, 0.01)  # unimodal heads ignored by OGM
    out.slices = {"audio": branch_from_logits(_logits_for(0.6), y), "video": branch_from_logits(_logits_for(0.3), y)}
    ogm = OGMGE(alpha=1.0, ge=False, scope="modality")
    assert ogm.combine(out)["loss"].item() == pytest.approx(-math.log(0.5))  # fused loss only
    params = _params()
    ogm.on_before_optimizer_step(params)
    assert ogm.coefficients == pytest.approx({"audio": 1 - math.tanh(2.0), "video": 1.0})
    assert params["audio"][0].grad.tolist() == pytest.approx([1 - math.tanh(2.0)] * 3)

    def noisy_grads(seed):
        conv = nn.Parameter(torch.zeros(2, 1, 2, 2))
        conv.grad = torch.arange(8.0).view(2, 1, 2, 2)
        lin = nn.Parameter(torch.zeros(4))
        lin.grad = torch.arange(4.0)
        ogm_ge = OGMGE(alpha=1.0, ge=True, seed=seed, scope="modality")
        ogm_ge.combine(out)
        ogm_ge.on_before_optimizer_step({"audio": [conv, lin], "video": []})
        return conv.grad.clone(), lin.grad.clone()

    conv_a, lin_a = noisy_grads(0)
    conv_b, lin_b = noisy_grads(0)
    assert torch.equal(conv_a, conv_b)  # same seed, same noise: identical on every rank
    k = 1 - math.tanh(2.0)
    assert not torch.allclose(conv_a, torch.arange(8.0).view(2, 1, 2, 2) * k)  # noise on conv weights
    assert not torch.allclose(lin_a, torch.arange(4.0) * k)  # scope "modality": on every tensor


def test_route_lr_scales_tagged_param_groups_without_compounding():
    a, v, shared = (nn.Parameter(torch.zeros(1)) for _ in range(3))
    opt = torch.optim.Adam([{"params": [a], "modality": "audio"}, {"params": [v], "modality": "video"},
                            {"params": [shared]}], lr=0.1)
    mlb = MLB(alpha=0.5, beta_max=10.0, route="lr")
    for _ in range(2):
        mlb.combine(_outputs(0.5, 0.6, 0.3))
        mlb.on_before_optimizer_step({"audio": [a], "video": [v]}, opt)
    lrs = [g["lr"] for g in opt.param_groups]
    assert lrs == pytest.approx([0.1 * (1 + math.tanh(-0.25)), 0.1 * (1 + 9 * math.tanh(0.5)), 0.1])
    scale_learning_rates(opt, {"audio": 1.0, "video": 1.0})
    assert [g["lr"] for g in opt.param_groups] == pytest.approx([0.1, 0.1, 0.1])


def test_bad_route_is_named():
    with pytest.raises(ValueError, match="route"):
        MLB(route="bogus")
