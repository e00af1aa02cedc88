"""Save/load I-LoRA adapters: a peft-style directory, safetensors only (no pickle).

Layout of ``dir``::

    adapter_config.json        ILoRAConfig fields + "adapter_type": "ILORA", "format_version", "targets"
    adapter_model.safetensors  "<module path>.lora_A.weight" (r, d_in), ".lora_B.weight" (d_out, K·r),
                               ".lora_route.weight" (K, d_in), ".lora_task_route.weight" (T, K)

Decision: peft does not host the layer. peft 0.21 could (``LoraConfig._register_custom_module``), but that
API is marked experimental, relies on internals of
``LoraLayer.update_layer`` and forces a ``base_layer`` child that renames every frozen key; task
routing, routing statistics, per-head dropout and encoder-scoped patterns would all be patches on top.
We keep peft's directory layout and file names so tooling recognises the files, and test numerical
equality with peft's LoRA for K = 1 instead.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn
from safetensors.torch import load_file, save_file

from crabplus.lora.config import ILoRAConfig
from crabplus.lora.inject import ilora_layers, inject, is_injected

__all__ = ["adapter_state_dict", "save_adapter", "load_adapter", "CONFIG_NAME", "WEIGHTS_NAME"]

CONFIG_NAME = "adapter_config.json"
WEIGHTS_NAME = "adapter_model.safetensors"
FORMAT_VERSION = 1
_META_KEYS = ("adapter_type", "format_version", "targets")


def adapter_state_dict(model: nn.Module) -> dict[str, torch.Tensor]:
    """``{"<module path>.lora_*.weight": tensor}`` of every I-LoRA layer (detached, not copied)."""
    return {
        f"{name}.{local}": param.detach()
        for name, layer in ilora_layers(model)
        for local, param in layer.adapter_parameters().items()
    }


def save_adapter(model: nn.Module, directory: str | Path) -> Path:
    """Write ``adapter_config.json`` and ``adapter_model.safetensors`` into ``directory``."""
    config: ILoRAConfig | None = getattr(model, "ilora_config", None)
    if config is None or not is_injected(model):
        raise ValueError("save_adapter: the model has no I-LoRA layers (call crabplus.lora.inject first)")
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.contiguous().cpu() for k, v in adapter_state_dict(model).items()}
    save_file(tensors, str(out / WEIGHTS_NAME), metadata={"format": "pt"})
    meta = {
        "adapter_type": "ILORA",
        "format_version": FORMAT_VERSION,
        "targets": {name: layer.group for name, layer in ilora_layers(model)},
    }
    (out / CONFIG_NAME).write_text(json.dumps({**config.to_dict(), **meta}, indent=2, sort_keys=True))
    return out


def read_adapter_config(directory: str | Path) -> tuple[ILoRAConfig, dict[str, Any]]:
    """(config, meta) from ``directory/adapter_config.json``."""
    raw = json.loads((Path(directory) / CONFIG_NAME).read_text())
    if raw.get("adapter_type") != "ILORA":
        raise ValueError(
            f"{Path(directory) / CONFIG_NAME}: adapter_type is {raw.get('adapter_type')!r}, not 'ILORA'"
        )
    meta = {k: raw.pop(k) for k in _META_KEYS if k in raw}
    return ILoRAConfig.from_dict(raw), meta


def load_adapter(model: nn.Module, directory: str | Path) -> nn.Module:
    """Load an adapter saved by :func:`save_adapter`; injects it first if ``model`` has none.

    Strict: every adapter tensor of the model must be in the file with the same shape, and the file
    must hold nothing else. Returns ``model``.
    """
    config, meta = read_adapter_config(directory)
    if not is_injected(model):
        inject(model, config)
    expected = adapter_state_dict(model)
    path = Path(directory) / WEIGHTS_NAME
    tensors = load_file(str(path))
    missing = sorted(set(expected) - set(tensors))
    unexpected = sorted(set(tensors) - set(expected))
    if missing or unexpected:
        raise ValueError(
            f"{path}: missing keys {missing[:5]} (of {len(missing)}), unexpected {unexpected[:5]} (of {len(unexpected)})"
        )
    with torch.no_grad():
        for key, target in expected.items():
            if target.shape != tensors[key].shape:
                raise ValueError(
                    f"{path}: {key} has shape {tuple(tensors[key].shape)}, model expects {tuple(target.shape)}"
                )
            target.copy_(tensors[key])
    return model
