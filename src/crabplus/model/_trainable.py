"""Which parameters train: ``set_trainable(model, mode)``.

Modes (Crab's training stages):
- "full": everything.
- "connectors": connectors + mask head (projector pre-training).
- "adapters": only adapter parameters (name contains ``lora_``), wherever they were injected.
- "adapters+connectors": adapters + connectors + mask head (Crab's unified instruction tuning).
"""

from __future__ import annotations

from torch import nn

from crabplus.errors import ConfigError

__all__ = ["TRAINABLE_MODES", "set_trainable"]

_SMALL = ("vision_connector.", "audio_connector.", "mask_head.")
TRAINABLE_MODES: dict[str, object] = {
    "full": lambda name: True,
    "connectors": lambda name: name.startswith(_SMALL),
    "adapters": lambda name: "lora_" in name,
    "adapters+connectors": lambda name: "lora_" in name or name.startswith(_SMALL),
}


def set_trainable(model: nn.Module, mode: str) -> int:
    """Freeze everything except ``mode``'s parameters; returns the number of trainable elements."""
    if mode not in TRAINABLE_MODES:
        raise ConfigError(
            f"model.init_args.trainable: unknown trainable mode {mode!r}; valid: {', '.join(sorted(TRAINABLE_MODES))}"
        )
    keep = TRAINABLE_MODES[mode]
    # remove_duplicate=False: a module shared by two names (omni towers) trains if either name matches
    names: dict[int, bool] = {}
    params: dict[int, nn.Parameter] = {}
    for name, p in model.named_parameters(remove_duplicate=False):
        names[id(p)] = names.get(id(p), False) or keep(name)
        params[id(p)] = p
    for key, p in params.items():
        p.requires_grad_(names[key])
    return sum(p.numel() for key, p in params.items() if names[key])
