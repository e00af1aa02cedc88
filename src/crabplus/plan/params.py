"""Parameter counts per group: what ``crabplus plan`` reports and the papers' counts are checked against.

Groups: ``llm adapters`` / ``vision adapters`` / ``audio adapters`` (I-LoRA layers by the group they were
injected in), ``connectors`` (vision + audio), ``heads`` (mask head), and the frozen bases ``llm``,
``vision encoder``, ``audio encoder``. A parameter shared by two names (the omni towers are both
``vision_encoder`` and ``language_model.model.visual``) is counted once, under its first name.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from crabplus.lora import ilora_layers

__all__ = ["GROUPS", "ParamGroup", "count_groups"]

_ADAPTER_GROUP = {
    "llm": "llm adapters",
    "vision_encoder": "vision adapters",
    "audio_encoder": "audio adapters",
}
_PREFIX_GROUP = {
    "vision_connector.": "connectors",
    "audio_connector.": "connectors",
    "mask_head.": "heads",
    "vision_encoder.": "vision encoder",
    "audio_encoder.": "audio encoder",
}
GROUPS = (
    "llm adapters", "vision adapters", "audio adapters", "connectors", "heads",
    "llm", "vision encoder", "audio encoder",
)  # fmt: skip


@dataclass
class ParamGroup:
    name: str
    total: int = 0
    trainable: int = 0


def count_groups(model: nn.Module) -> dict[str, ParamGroup]:
    """``{group: ParamGroup}`` over every distinct parameter of ``model`` (all GROUPS present, maybe 0)."""
    adapter_of = {}
    for name, layer in ilora_layers(model):
        group = _ADAPTER_GROUP.get(layer.group, f"{layer.group} adapters")
        for local in layer.adapter_parameters():
            adapter_of[f"{name}.{local}"] = group
    groups = {g: ParamGroup(g) for g in GROUPS}
    for name, param in model.named_parameters():  # dedup: a shared tower counts under its first name
        group = adapter_of.get(name) or next(
            (g for p, g in _PREFIX_GROUP.items() if name.startswith(p)), "llm"
        )
        entry = groups.setdefault(group, ParamGroup(group))
        entry.total += param.numel()
        entry.trainable += param.numel() if param.requires_grad else 0
    return groups
