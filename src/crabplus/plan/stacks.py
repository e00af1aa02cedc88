"""The transformer-layer stacks of a model and their activation bytes per token (measured on meta).

A stack is the run of same-class layers under one component (``language_model``, ``vision_encoder``,
``audio_encoder``); its layer class is one of ``LAYER_MODULES`` (the FSDP wrap policy's list, so the
units FSDP shards and the stacks measured here are the same layers). Each class family has a runner
that calls one layer the way its model does (rotary embeddings, ``cu_seqlens`` of the packed Omni towers).
Bytes per token are fitted as a + b·L from two lengths; b is reported (a is per-layer constant state).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from crabplus.model import LAYER_MODULES
from crabplus.plan.activations import saved_bytes

__all__ = ["Stack", "find_stacks", "measure_stack"]

_PROBE_TOKENS = (32, 64)
_COMPONENTS = ("language_model", "vision_encoder", "audio_encoder")


@dataclass
class Stack:
    """One component's transformer layers.

    Attributes:
        component: ``language_model``, ``vision_encoder`` or ``audio_encoder``.
        layer_class: class name of the layers.
        layers: how many.
        width: hidden size at the layer input.
        params: parameters of all its layers (frozen base + adapters).
        trainable: whether any parameter of the stack trains (else, with a frozen input, nothing is saved).
        bytes_per_token: saved activation bytes per token of one layer (compute dtype), or None when the
            layer could not run on the meta device (the reason is in ``note``).
        note: why a measurement is missing.
    """

    component: str
    layer_class: str
    layers: int
    width: int
    params: int
    trainable: bool
    bytes_per_token: float | None = None
    note: str = ""


def find_stacks(model: nn.Module) -> list[tuple[Stack, nn.Module, nn.Module]]:
    """``(stack, first layer, component module)`` for each component holding known transformer layers."""
    found: list[tuple[Stack, nn.Module, nn.Module]] = []
    for component in _COMPONENTS:
        root = getattr(model, component, None)
        if root is None:
            continue
        others = [getattr(model, c, None) for c in _COMPONENTS if c != component]
        # a component holding this one (the omni thinker holds its towers) is no reason to skip it
        skip_ids = {
            id(m)
            for o in others
            if o is not None and all(m is not root for m in o.modules())
            for m in o.modules()
        }
        layers = [
            m for m in root.modules() if type(m).__name__ in LAYER_MODULES and id(m) not in skip_ids
        ]  # the omni thinker holds its towers: they count under their own component only
        by_class: dict[str, list[nn.Module]] = {}
        for layer in layers:
            by_class.setdefault(type(layer).__name__, []).append(layer)
        for name, group in by_class.items():
            first = group[0]
            params = sum(p.numel() for layer in group for p in layer.parameters())
            stack = Stack(
                component=component,
                layer_class=name,
                layers=len(group),
                width=_width(first),
                params=params,
                trainable=any(p.requires_grad for layer in group for p in layer.parameters()),
            )
            found.append((stack, first, root))
    return found


def _width(layer: nn.Module) -> int:
    """Input width of a layer: the in_features of its first linear."""
    for module in layer.modules():
        if isinstance(module, nn.Linear):
            return module.in_features
    raise ValueError(f"{type(layer).__name__}: no nn.Linear to read the width from")


# ---------------------------------------------------------------------------- runners
def _rotary(component: nn.Module) -> nn.Module:
    """The LM's rotary embedding (a module named ``rotary_emb``; the towers' own are named otherwise)."""
    for name, module in component.named_modules():
        if name.split(".")[-1] == "rotary_emb":
            return module
    raise ValueError(f"{type(component).__name__}: no rotary_emb module")


def _decoder_runner(component: nn.Module, mrope: bool) -> Callable[[nn.Module, torch.Tensor], object]:
    rotary = _rotary(component)

    def run(layer: nn.Module, x: torch.Tensor):
        L = x.shape[1]
        positions = torch.arange(L, device="meta")[None]
        if mrope:
            positions = positions[None].expand(3, 1, L)
        cos, sin = rotary.to("meta")(x, positions)
        return layer(x, attention_mask=None, position_ids=positions, position_embeddings=(cos, sin))

    return run


def _encoder_runner(layer: nn.Module, x: torch.Tensor):
    return layer(x, None)


def _packed_audio_runner(layer: nn.Module, x: torch.Tensor):
    return layer(x[0], cu_seqlens=torch.tensor([0, x.shape[1]], dtype=torch.int32))


def _packed_vision_runner(layer: nn.Module, x: torch.Tensor):
    L = x.shape[1]
    head_dim = layer.attn.head_dim if hasattr(layer.attn, "head_dim") else x.shape[-1] // layer.attn.num_heads
    cos = torch.empty(L, head_dim, device="meta", dtype=torch.float32)
    return layer(x[0], cu_seqlens=torch.tensor([0, L], dtype=torch.int32), position_embeddings=(cos, cos))


def _runner(layer_class: str, component: nn.Module) -> Callable[[nn.Module, torch.Tensor], object]:
    if layer_class == "Qwen2_5OmniDecoderLayer":
        return _decoder_runner(component, mrope=True)
    if layer_class.endswith("DecoderLayer"):
        return _decoder_runner(component, mrope=False)
    if layer_class == "Qwen2_5OmniAudioEncoderLayer":
        return _packed_audio_runner
    if layer_class == "Qwen2_5OmniVisionBlock":
        return _packed_vision_runner
    return _encoder_runner


def measure_stack(stack: Stack, layer: nn.Module, component: nn.Module, dtype: torch.dtype) -> Stack:
    """Fill ``stack.bytes_per_token``: saved bytes of one layer per token, slope over two lengths.

    Gradients flow back through an LM layer's input (adapters below it train); through an encoder
    layer's only when the stack itself trains (its inputs come from frozen pixels/mels).
    """
    run = _runner(stack.layer_class, component)
    grad_in = stack.component == "language_model" or stack.trainable
    if not grad_in:
        stack.bytes_per_token = 0.0
        return stack
    try:
        a, b = (
            saved_bytes(layer, run, n, stack.width, dtype, input_requires_grad=True) for n in _PROBE_TOKENS
        )
    except Exception as err:  # an unknown layer signature: reported, never silently zero
        stack.note = f"not measured on meta ({type(err).__name__}: {str(err).splitlines()[0][:80]})"
        return stack
    stack.bytes_per_token = (b - a) / (_PROBE_TOKENS[1] - _PROBE_TOKENS[0])
    return stack
