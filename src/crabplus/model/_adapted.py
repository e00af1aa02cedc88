"""The AV-LLM as a run trains it: preset, then the adapter injected, then the trainable set chosen.

One place for that order, used by ``AVLLMModule`` and by anything that must count what a recipe trains
(the transfer package's parameter-matched LoRA) without a Lightning module.
"""

from __future__ import annotations

from typing import Any

from crabplus.lora import ILoRAConfig, inject
from crabplus.model._avllm import AVLLM
from crabplus.model._presets import build_avllm
from crabplus.model._trainable import set_trainable

__all__ = ["build_adapted_avllm"]


def build_adapted_avllm(
    preset: str, overrides: dict[str, Any], adapter: ILoRAConfig | None, trainable: str
) -> tuple[AVLLM, int]:
    """``build_avllm(preset, **overrides)``, ``adapter`` injected (None: no adapter), ``trainable`` set.

    The preset's base weights are deterministic (its own seed), so a model rebuilt from the same config
    matches a checkpoint holding trainable parts only; adapters draw from the caller's RNG state.

    Returns:
        The model and its number of trainable parameters.
    """
    model = build_avllm(preset, **overrides)
    if adapter is not None:
        inject(model, adapter)
    return model, set_trainable(model, trainable)
