"""Acceptance: injected I-LoRA on tiny HF models equals an independent reference built from the formula

    y = x Wᵀ + b + s · Σ_i softmax(x W_rᵀ)_i · B_i A x      (eval mode: no dropout)

The reference re-runs an untouched copy of the frozen model with forward hooks that add the formula's
term, using adapter tensors the test draws itself in the Crab key layout; crabplus receives the same
tensors only through ``load_crab_state_dict``.
"""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn as nn
from _lora_tiny import ENCODER_TARGETS, LLM_TARGETS, TinyAV, av_inputs, tiny_llama
from peft import LoraConfig, get_peft_model

from crabplus.lora import ILoRAConfig, crab_state_dict, ilora_layers, inject, load_crab_state_dict

pytestmark = pytest.mark.integration


def crab_layout_weights(model: nn.Module, heads: int, rank: int, seed: int = 11) -> dict[str, torch.Tensor]:
    """Random Crab-layout adapter tensors (all non-zero) for every I-LoRA layer of ``model``."""
    g = torch.Generator().manual_seed(seed)
    out = {}
    for name, layer in ilora_layers(model):
        d_in, d_out = layer.in_features, layer.out_features
        out[f"base_model.model.{name}.lora_A.weight"] = torch.randn(rank, d_in, generator=g) * 0.1
        for i in range(heads):
            out[f"base_model.model.{name}.lora_B{i}.weight"] = torch.randn(d_out, rank, generator=g) * 0.1
        out[f"base_model.model.{name}.lora_route.weight"] = torch.randn(heads, d_in, generator=g)
    return out


def formula_hooks(reference: nn.Module, weights: dict[str, torch.Tensor], heads: int, scaling: float) -> None:
    """Add s·Σ_i softmax(x W_rᵀ)_i B_i A x to the output of each adapted linear of ``reference``."""
    for name, module in reference.named_modules():
        key = f"base_model.model.{name}"
        if f"{key}.lora_A.weight" not in weights:
            continue
        A = weights[f"{key}.lora_A.weight"]
        Bs = [weights[f"{key}.lora_B{i}.weight"] for i in range(heads)]
        W_r = weights[f"{key}.lora_route.weight"]

        def hook(mod, inputs, output, A=A, Bs=Bs, W_r=W_r):
            x = inputs[0]
            gate = torch.softmax((x @ W_r.T).float(), dim=-1) if heads > 1 else torch.ones(*x.shape[:-1], 1)
            extra = sum(gate[..., i : i + 1] * ((x @ A.T) @ B.T) for i, B in enumerate(Bs))
            return output + scaling * extra

        module.register_forward_hook(hook)


@pytest.mark.parametrize("heads", [1, 3, 5])
@pytest.mark.parametrize("encoders", [False, True])
def test_injected_logits_match_formula(heads: int, encoders: bool) -> None:
    base = TinyAV(seed=0)
    reference = copy.deepcopy(base)
    config = ILoRAConfig(
        heads=heads, rank=4, alpha=12.0, dropout=0.1, shared_dropout=False, target_modules=LLM_TARGETS,
        encoder_target_modules=ENCODER_TARGETS if encoders else {},
    )  # fmt: skip
    model = inject(base, config).eval()
    names = [n for n, _ in ilora_layers(model)]
    assert len([n for n in names if n.startswith("language_model.")]) == 2 * 7
    assert len([n for n in names if n.startswith("audio_encoder.")]) == (3 if encoders else 0)
    assert len([n for n in names if n.startswith("vision_encoder.")]) == (2 if encoders else 0)
    weights = crab_layout_weights(model, heads, rank=4)
    report = load_crab_state_dict(model, weights)
    assert sorted(report["loaded"]) == sorted(names) and report["ignored"] == []
    formula_hooks(reference, weights, heads, scaling=12.0 / 4)
    inputs = av_inputs()
    with torch.no_grad():
        got, want, plain = model(**inputs), reference(**inputs), TinyAV(seed=0)(**inputs)
    assert (got - plain).abs().max() > 1e-2  # the adapters do change the logits
    assert (got - want).abs().max().item() <= 1e-5


def test_k1_equals_peft_lora() -> None:
    """K = 1 is numerically peft's LoRA on the same weights (eval, and train mode with dropout)."""
    peft_model = get_peft_model(
        tiny_llama(seed=0),
        LoraConfig(r=4, lora_alpha=8, lora_dropout=0.1, target_modules=LLM_TARGETS, init_lora_weights=False),
    )
    ours = inject(
        tiny_llama(seed=0), ILoRAConfig.lora(rank=4, alpha=8, dropout=0.1, target_modules=LLM_TARGETS)
    )
    peft_weights = {k: v for k, v in peft_model.state_dict().items() if "lora_" in k}
    with torch.no_grad():
        for name, layer in ilora_layers(ours):
            prefix = f"base_model.model.{name}"
            layer.lora_A.weight.copy_(peft_weights[f"{prefix}.lora_A.default.weight"])
            layer.lora_B.weight.copy_(peft_weights[f"{prefix}.lora_B.default.weight"])
    assert all(v.abs().sum() > 0 for v in peft_weights.values())
    ids = torch.randint(0, 64, (2, 7))
    for train in (False, True):
        peft_model.train(train)
        ours.train(train)
        with torch.no_grad():
            torch.manual_seed(5)
            want = peft_model(input_ids=ids).logits
            torch.manual_seed(5)
            got = ours(input_ids=ids).logits
        assert (got - want).abs().max().item() <= 1e-5, f"train={train}"


def test_crab_export_import_is_identity() -> None:
    """Crab layout -> crabplus -> Crab layout returns the same tensors, and crabplus -> Crab -> crabplus too."""
    config = ILoRAConfig.crab(rank=4, target_modules=LLM_TARGETS)
    model = inject(tiny_llama(), config)
    weights = {k.removeprefix("base_model.model."): v for k, v in crab_layout_weights(model, 3, 4).items()}
    load_crab_state_dict(model, weights)
    exported = crab_state_dict(model)
    assert exported.keys() == weights.keys()
    assert all(torch.equal(exported[k], weights[k]) for k in weights)
    other = inject(tiny_llama(), config)
    load_crab_state_dict(other, crab_state_dict(model, prefix="llama_model.base_model.model."))
    for (_, a), (_, b) in zip(ilora_layers(model), ilora_layers(other)):
        assert all(torch.equal(p, b.adapter_parameters()[k]) for k, p in a.adapter_parameters().items())


def test_crab_import_rejects_wrong_head_count() -> None:
    model = inject(tiny_llama(), ILoRAConfig.crab(rank=4, target_modules=LLM_TARGETS))
    weights = crab_layout_weights(
        inject(tiny_llama(), ILoRAConfig(heads=5, rank=4, target_modules=LLM_TARGETS)), 5, 4
    )
    with pytest.raises(ValueError, match="K=3"):
        load_crab_state_dict(model, weights)
