"""Converter between crabplus I-LoRA layers and the Crab / Crab+ checkpoint key layout.

Crab layout, per wrapped projection ``P``::

    P.lora_A.weight      (r, d_in)
    P.lora_B{i}.weight   (d_out, r)    i = 0 … K-1
    P.lora_route.weight  (K, d_in)

crabplus stores the heads as column blocks of one ``lora_B.weight`` (d_out, K·r): B_i is block i.
Module paths of a Crab checkpoint carry other prefixes (``base_model.model.model.layers…``); a
checkpoint path is matched to the crabplus layer with the same path or, failing that, to the unique
layer sharing the longest dotted suffix with it (``model.layers.0.self_attn.q_proj``). When the LLM and
a tower tie (Crab+: ``…model.layers.0.self_attn.q_proj`` and ``…audio_tower.layers.0.self_attn.q_proj``),
the tower named in the path (``audio_tower``, ``visual``) decides.

Beyond Crab: K = 1 layers have no router here (softmax over one logit is 1); they export a zero
``lora_route`` (1, d_in) so Crab code loads them, and ignore it on import. Every routing variant's
modules (``ILoRALinear.gate_modules``) travel as ``P.<name>.weight``: ``lora_route`` for token/top-k,
``lora_task_route`` (not a Crab key) for task routing.
"""

from __future__ import annotations

import re
from collections import defaultdict

import torch
import torch.nn as nn

from crabplus.lora.inject import ilora_layers
from crabplus.lora.layer import ILoRALinear

__all__ = ["crab_state_dict", "load_crab_state_dict"]

_KEY = re.compile(r"^(?P<path>.+)\.(?P<kind>lora_A|lora_B\d+|lora_[a-z][a-z_]*)(?:\.default)?\.weight$")


def crab_state_dict(model: nn.Module, prefix: str = "") -> dict[str, torch.Tensor]:
    """Adapter tensors of ``model`` in the Crab key layout (copies, contiguous)."""
    out: dict[str, torch.Tensor] = {}
    for name, layer in ilora_layers(model):
        path = f"{prefix}{name}"
        out[f"{path}.lora_A.weight"] = layer.lora_A.weight.detach().clone()
        for i in range(layer.heads):
            out[f"{path}.lora_B{i}.weight"] = layer.head_up(i).detach().clone()
        if layer.heads == 1:
            out[f"{path}.lora_route.weight"] = layer.lora_A.weight.new_zeros(1, layer.in_features)
        for kind, module in layer.gate_modules().items():
            out[f"{path}.{kind}.weight"] = module.weight.detach().clone()
    return out


def _suffix_len(a: list[str], b: list[str]) -> int:
    n = 0
    while n < min(len(a), len(b)) and a[-1 - n] == b[-1 - n]:
        n += 1
    return n


#: module-path components that name a tower in Crab / Crab+ checkpoints (Qwen2.5-Omni thinker: ``audio_tower``,
#: ``visual``), mapped to the I-LoRA group of crabplus's layers there
_TOWER_GROUPS = {
    "audio_tower": "audio_encoder", "audio_encoder": "audio_encoder",
    "visual": "vision_encoder", "vision_tower": "vision_encoder", "vision_encoder": "vision_encoder",
}  # fmt: skip


def _group_hint(parts: list[str]) -> str:
    """The I-LoRA group a checkpoint module path points into: a tower's, else the LLM's."""
    return next((_TOWER_GROUPS[p] for p in parts if p in _TOWER_GROUPS), "llm")


def _match_paths(ckpt_paths: list[str], layers: dict[str, ILoRALinear]) -> dict[str, str]:
    """checkpoint module path -> layer name (exact, else unique longest common dotted suffix)."""
    mapping: dict[str, str] = {}
    split = {name: name.split(".") for name in layers}
    for path in ckpt_paths:
        if path in layers:
            mapping[path] = path
            continue
        parts = path.split(".")
        scores = {name: _suffix_len(parts, p) for name, p in split.items()}
        best = max(scores.values(), default=0)
        winners = [n for n, s in scores.items() if s == best]
        if len(winners) > 1:  # e.g. LLM and audio tower both end in layers.0.self_attn.q_proj
            winners = [n for n in winners if layers[n].group == _group_hint(parts)] or winners
        if best < 2 or len(winners) != 1:
            raise ValueError(
                f"load_crab_state_dict: cannot map checkpoint module {path!r} to one I-LoRA layer (candidates {winners[:3]})"
            )
        mapping[path] = winners[0]
    targets = list(mapping.values())
    clash = sorted({t for t in targets if targets.count(t) > 1})
    if clash:
        raise ValueError(f"load_crab_state_dict: several checkpoint modules map to {clash[:3]}")
    return mapping


def _load_layer(layer: ILoRALinear, path: str, tensors: dict[str, torch.Tensor]) -> None:
    heads = sorted(int(k[6:]) for k in tensors if k.startswith("lora_B") and k[6:].isdigit())
    if heads != list(range(layer.heads)):
        raise ValueError(
            f"load_crab_state_dict: {path} has heads lora_B{heads}, the layer has K={layer.heads}"
        )
    blocks = torch.cat([tensors[f"lora_B{i}"] for i in heads], dim=1)  # (d_out, K·r)
    pairs = [(layer.lora_A.weight, tensors.get("lora_A"), "lora_A"), (layer.lora_B.weight, blocks, "lora_B*")]
    pairs += [(module.weight, tensors.get(kind), kind) for kind, module in layer.gate_modules().items()]
    with torch.no_grad():
        for target, source, kind in pairs:
            if source is None:
                raise ValueError(f"load_crab_state_dict: {path}.{kind}.weight is missing")
            if source.shape != target.shape:
                raise ValueError(
                    f"load_crab_state_dict: {path}.{kind} has shape {tuple(source.shape)}, layer expects {tuple(target.shape)}"
                )
            target.copy_(source)


def load_crab_state_dict(
    model: nn.Module, state_dict: dict[str, torch.Tensor], strict: bool = True
) -> dict[str, list[str]]:
    """Copy Crab-layout adapter tensors into the I-LoRA layers of ``model``.

    Keys that are not adapter keys (projectors, embeddings) are returned under ``ignored``. With
    ``strict`` every I-LoRA layer of the model must be covered. Returns ``{"loaded", "ignored"}``.
    """
    grouped: dict[str, dict[str, torch.Tensor]] = defaultdict(dict)
    ignored: list[str] = []
    for key, value in state_dict.items():
        m = _KEY.match(key)
        if m is None:
            ignored.append(key)
        else:
            grouped[m["path"]][m["kind"]] = value
    layers = dict(ilora_layers(model))
    mapping = _match_paths(list(grouped), layers)
    for path, name in mapping.items():
        _load_layer(layers[name], path, grouped[path])
    missing = sorted(set(layers) - set(mapping.values()))
    if strict and missing:
        raise ValueError(
            f"load_crab_state_dict: no checkpoint tensors for {len(missing)} layers, e.g. {missing[:3]}"
        )
    return {"loaded": sorted(mapping.values()), "ignored": ignored}
