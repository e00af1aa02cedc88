"""Acceptance: injected I-LoRA on tiny HF models equals an independent reference built from the formula

    y = x Wᵀ + b + s · Σ_i g_i(x) · B_i A x      (eval mode: no dropout; Crab: g = softmax(x W_rᵀ))

for every registered routing variant.
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
from _variants import hand_gate, routing_names, variant_config
from peft import LoraConfig, get_peft_model

from crabplus.lora import (
    ILoRAConfig,
    crab_state_dict,
    ilora_layers,
    inject,
    load_crab_state_dict,
    routing_inputs,
)

pytestmark = pytest.mark.integration


def crab_layout_weights(model: nn.Module, seed: int = 11) -> dict[str, torch.Tensor]:
    """Random Crab-layout adapter tensors (all non-zero) for every I-LoRA layer of ``model``: the keys
    and shapes its export has, under peft's ``base_model.model.`` prefix; heads 0.1-scaled."""
    g = torch.Generator().manual_seed(seed)
    out = {}
    for key, like in crab_state_dict(model, prefix="base_model.model.").items():
        scale = 0.1 if ".lora_A." in key or ".lora_B" in key else 1.0
        out[key] = torch.randn(like.shape, generator=g) * scale
    return out


def formula_hooks(reference: nn.Module, model: nn.Module, weights: dict[str, torch.Tensor], task_ids) -> None:
    """Add s·Σ_i g_i(x) B_i A x to the output of each adapted linear of ``reference``; g from the test's
    own tensors for built-in variants (``_variants.hand_gate``), else the variant's literal formula."""
    layers = dict(ilora_layers(model))
    for name, module in reference.named_modules():
        key = f"base_model.model.{name}"
        if name not in layers:
            continue
        layer = layers[name]
        A = weights[f"{key}.lora_A.weight"]
        Bs = [weights[f"{key}.lora_B{i}.weight"] for i in range(layer.heads)]
        gate_tensors = {n: weights[f"{key}.{n}.weight"] for n in layer.gate_modules()}

        def hook(mod, inputs, output, A=A, Bs=Bs, gate_tensors=gate_tensors, layer=layer):
            x = inputs[0]
            if layer.heads == 1:
                gate = torch.ones(*x.shape[:-1], 1)
            else:
                top_k = getattr(layer.gate_rule, "top_k", 1)
                by_hand = hand_gate(layer.routing, gate_tensors, x, task_ids, top_k)
                gate = by_hand[0] if by_hand is not None else layer.gate_rule.reference(layer, x)[0]
            extra = sum(gate[..., i : i + 1] * ((x @ A.T) @ B.T) for i, B in enumerate(Bs))
            return output + layer.scaling * extra

        module.register_forward_hook(hook)


CASES = [(1, "token")] + [(heads, routing) for heads in (3, 5) for routing in routing_names()]


@pytest.mark.parametrize("encoders", [False, True])
@pytest.mark.parametrize("heads, routing", CASES, ids=[f"{r}-{h}" for h, r in CASES])
def test_injected_logits_match_formula(heads: int, routing: str, encoders: bool) -> None:
    base = TinyAV(seed=0)
    reference = copy.deepcopy(base)
    config = variant_config(
        routing, heads, alpha=12.0, dropout=0.1, shared_dropout=False, target_modules=LLM_TARGETS,
        encoder_target_modules=ENCODER_TARGETS if encoders else {},
    )  # fmt: skip
    model = inject(base, config).eval()
    names = [n for n, _ in ilora_layers(model)]
    assert len([n for n in names if n.startswith("language_model.")]) == 2 * 7
    assert len([n for n in names if n.startswith("audio_encoder.")]) == (3 if encoders else 0)
    assert len([n for n in names if n.startswith("vision_encoder.")]) == (2 if encoders else 0)
    weights = crab_layout_weights(model)
    report = load_crab_state_dict(model, weights)
    assert sorted(report["loaded"]) == sorted(names) and report["ignored"] == []
    task_ids = torch.tensor([1, 2])
    formula_hooks(reference, model, weights, task_ids)
    inputs = av_inputs()
    with torch.no_grad(), routing_inputs(task_ids=task_ids):
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


@pytest.mark.parametrize("routing", routing_names())
def test_crab_export_import_is_identity(routing: str) -> None:
    """Crab layout -> crabplus -> Crab layout returns the same tensors, and crabplus -> Crab -> crabplus too."""
    config = variant_config(routing, 3, target_modules=LLM_TARGETS)
    model = inject(tiny_llama(), config)
    weights = {k.removeprefix("base_model.model."): v for k, v in crab_layout_weights(model).items()}
    assert all(f".{n}.weight" in "".join(weights) for n in next(ilora_layers(model))[1].gate_modules())
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
        inject(tiny_llama(), ILoRAConfig(heads=5, rank=4, target_modules=LLM_TARGETS))
    )
    with pytest.raises(ValueError, match="K=3"):
        load_crab_state_dict(model, weights)
