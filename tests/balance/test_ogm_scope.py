"""OGM-GE's ``scope`` on the study's classifier: ``conv`` touches exactly the encoders' 4-D conv gradients.

The coefficient is recomputed here from the fused layer's per-modality halves (Peng et al. 2022, Eq. 10:
k = 1 - tanh(alpha * rho) for the modality with rho = s_i / s_other > 1); the expected gradients are the
unmodulated ones times k, plus, with GE, N(0, (std(g) + 1e-8)^2) noise replayed from the same seed.
"""

import math

import pytest
import torch
import torch.nn.functional as F

from crabplus.balance import OGMGE, ForwardOutputs, branch_from_logits, scoped_parameters
from crabplus.studies.balance import AVClassifier

pytestmark = pytest.mark.unit
ALPHA = 0.8


def _backward(seed: int = 0):
    """One fused-loss backward of the concat classifier; returns model, outputs, grads before modulation."""
    torch.manual_seed(seed)
    model = AVClassifier(num_classes=4, dim=8, channels=4, fusion="concat")
    audio, video = torch.randn(6, 16, 16), torch.rand(6, 2, 3, 16, 16)
    labels = torch.tensor([0, 1, 2, 3, 0, 1])
    out = model(audio, video)
    # fused plus unimodal losses, so the heads have gradients too (the scope decides what is modulated)
    (
        F.cross_entropy(out.fused, labels) + sum(F.cross_entropy(z, labels) for z in out.unimodal.values())
    ).backward()
    branches = ForwardOutputs(
        fused=branch_from_logits(out.fused, labels),
        unimodal={m: branch_from_logits(z, labels) for m, z in out.unimodal.items()},
        slices={m: branch_from_logits(z, labels) for m, z in out.slices.items()},
    )
    before = {name: p.grad.clone() for name, p in model.named_parameters()}
    return model, out, labels, branches, before


def _expected_k(out, labels) -> dict[str, float]:
    s = {
        m: out.slices[m].softmax(-1)[torch.arange(len(labels)), labels].sum().item()
        for m in ("audio", "video")
    }
    rho = {"audio": s["audio"] / s["video"], "video": s["video"] / s["audio"]}
    return {m: 1 - math.tanh(ALPHA * rho[m]) if rho[m] > 1 else 1.0 for m in rho}


def _conv_names(model) -> dict[str, list[str]]:
    return {
        m: [f"encoders.{m}.{n}" for n, p in model.encoders[m].named_parameters() if p.dim() == 4]
        for m in ("audio", "video")
    }


def test_conv_scope_scales_exactly_the_encoder_convs():
    model, out, labels, branches, before = _backward()
    k = _expected_k(out, labels)
    assert min(k.values()) < 1.0  # one modality dominates and is slowed down
    ogm = OGMGE(alpha=ALPHA, ge=False, scope="conv")
    ogm.combine(branches)
    ogm.on_before_optimizer_step(model.modality_parameters())
    assert ogm.coefficients == pytest.approx(k, rel=1e-6)
    convs = _conv_names(model)
    assert all(len(v) == 2 for v in convs.values())  # two conv blocks per encoder
    for name, p in model.named_parameters():
        modality = next((m for m, names in convs.items() if name in names), None)
        if modality is None:  # BatchNorm, biases, heads, fusion slices and shared bias: untouched
            assert torch.equal(p.grad, before[name]), name
        else:
            torch.testing.assert_close(p.grad, before[name] * k[modality], rtol=1e-6, atol=0)


def test_conv_scope_ge_noise_only_on_encoder_convs():
    model, out, labels, branches, before = _backward(seed=1)
    k = _expected_k(out, labels)
    ogm = OGMGE(alpha=ALPHA, ge=True, scope="conv", seed=5)
    ogm.combine(branches)
    ogm.on_before_optimizer_step(model.modality_parameters())
    replay = torch.Generator().manual_seed(5)  # draws in modality, then parameter order
    convs = _conv_names(model)
    expected = {}
    for m in ("audio", "video"):
        for name in convs[m]:
            g = before[name]
            noise = torch.randn(g.shape, generator=replay) * (g.std() + 1e-8)
            expected[name] = g * k[m] + noise
    for name, p in model.named_parameters():
        if name in expected:
            torch.testing.assert_close(p.grad, expected[name], rtol=1e-5, atol=1e-7)
            assert not torch.allclose(p.grad, before[name] * (k["audio"] if "audio" in name else k["video"]))
        else:
            assert torch.equal(p.grad, before[name]), name


def test_modality_scope_scales_every_modality_parameter():
    model, out, labels, branches, before = _backward(seed=2)
    k = _expected_k(out, labels)
    ogm = OGMGE(alpha=ALPHA, ge=False, scope="modality")
    ogm.combine(branches)
    ogm.on_before_optimizer_step(model.modality_parameters())
    owned = {id(p): m for m, ps in model.modality_parameters().items() for p in ps}
    for name, p in model.named_parameters():
        coef = k[owned[id(p)]] if id(p) in owned else 1.0  # the shared fusion bias stays unscaled
        torch.testing.assert_close(p.grad, before[name] * coef, rtol=1e-6, atol=0)
    assert "bias" in dict(model.named_parameters()) and id(model.bias) not in owned


def test_conv_scope_refuses_encoders_without_convolutions():
    linear = {"audio": [torch.nn.Parameter(torch.zeros(3, 3))], "video": [torch.nn.Parameter(torch.zeros(3))]}
    with pytest.raises(ValueError, match="modality 'audio'.*scope: modality"):
        scoped_parameters(linear, "conv")
    assert scoped_parameters(linear, "modality") == linear
    with pytest.raises(ValueError, match="scope"):
        OGMGE(scope="convs")


def test_shipped_configs_choose_the_documented_scope():
    from pathlib import Path

    import yaml

    root = Path(__file__).resolve().parents[2] / "configs"
    study = yaml.safe_load((root / "balance" / "ogm_ge.yaml").read_text())
    overlay = yaml.safe_load((root / "overlays" / "avllm_ogm_ge.yaml").read_text())
    assert study["model"]["init_args"]["balance"]["init_args"]["scope"] == "conv"
    assert overlay["model"]["init_args"]["balance"]["init_args"]["scope"] == "modality"


def test_avllm_modality_parameters_need_the_modality_scope():
    # the AV-LLM's audio/vision-side parameters (connectors, encoder adapters) hold no 4-D kernel
    from crabplus.model import build_avllm

    params = build_avllm("tiny-modular").modality_parameters()
    assert all(ps for ps in params.values())
    with pytest.raises(ValueError, match="no 4-D"):
        scoped_parameters(params, "conv")
