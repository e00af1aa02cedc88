"""Activation memory of one transformer layer, measured on the meta device.

Why measured and not a formula: what autograd keeps for backward depends on the exact code (the I-LoRA
fast path, dropout masks, GQA key/value repeats, which tensors require grad). Running one layer on the
meta device under ``saved_tensors_hooks`` records every tensor autograd saves, with its size, in
milliseconds and with no memory. Saved tensors are counted once per storage (views share one); the
layer's own weights are excluded (they are counted as weights).

Attention runs through a stand-in for ``scaled_dot_product_attention`` that saves what the fused
(flash / memory-efficient) kernels of a GPU save -- query, key, value, output and the float32
log-sum-exp -- since on the meta device the math fallback would save the (L, L) probabilities.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Callable, Iterator

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["SavedBytes", "fused_attention_stand_in", "saved_bytes"]


class _FusedAttention(torch.autograd.Function):
    """Shape-only attention that saves what a fused kernel saves: q, k, v, out and lse (B, H, L) fp32."""

    @staticmethod
    def forward(ctx, query, key, value):  # (B, H, L, D) each
        out = torch.empty_like(query)
        lse = query.new_empty(query.shape[:-1], dtype=torch.float32)
        ctx.save_for_backward(query, key, value, out, lse)
        return out

    @staticmethod
    def backward(ctx, grad):  # never run: meta measurements stop after the forward
        query, key, value, _, _ = ctx.saved_tensors
        return torch.zeros_like(query), torch.zeros_like(key), torch.zeros_like(value)


def _stand_in_sdpa(
    query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None, enable_gqa=False
):
    if enable_gqa and key.shape[-3] != query.shape[-3]:
        repeat = query.shape[-3] // key.shape[-3]
        key, value = key.repeat_interleave(repeat, -3), value.repeat_interleave(repeat, -3)
    return _FusedAttention.apply(query, key, value)


@contextlib.contextmanager
def fused_attention_stand_in() -> Iterator[None]:
    """Route ``F.scaled_dot_product_attention`` through the shape-only fused stand-in (meta only)."""
    original = F.scaled_dot_product_attention
    F.scaled_dot_product_attention = _stand_in_sdpa
    try:
        yield
    finally:
        F.scaled_dot_product_attention = original


class SavedBytes:
    """Records the bytes of every distinct storage autograd saves while active (a context manager)."""

    def __init__(self, exclude: list[torch.Tensor] = ()) -> None:
        self._seen: dict[int, int] = {}
        self._keep: list[torch.Tensor] = []  # keeps storages alive so their identities stay unique
        self._excluded = {t.untyped_storage()._cdata for t in exclude}
        self._hooks = torch.autograd.graph.saved_tensors_hooks(self._pack, lambda t: t)

    def _pack(self, tensor: torch.Tensor) -> torch.Tensor:
        key = tensor.untyped_storage()._cdata
        if key not in self._excluded and key not in self._seen:
            self._seen[key] = tensor.untyped_storage().nbytes()
            self._keep.append(tensor)
        return tensor

    @property
    def total(self) -> int:
        return sum(self._seen.values())

    def __enter__(self) -> SavedBytes:
        self._hooks.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self._hooks.__exit__(*exc)


def saved_bytes(
    layer: nn.Module,
    run: Callable[[nn.Module, torch.Tensor], object],
    tokens: int,
    width: int,
    dtype: torch.dtype,
    input_requires_grad: bool = True,
) -> int:
    """Bytes autograd saves when ``run(layer_copy, x)`` runs with x of shape (1, tokens, width) in training mode.

    The layer is copied onto the meta device in ``dtype`` (the compute precision), with the same
    ``requires_grad`` flags; ``input_requires_grad`` says whether gradients flow back through the input
    (True inside the LM, False for a first encoder layer with nothing trainable before it).
    """
    meta = copy.deepcopy(layer).to(device="meta", dtype=dtype).train()
    x = torch.empty(1, tokens, width, device="meta", dtype=dtype, requires_grad=input_requires_grad)
    with fused_attention_stand_in(), SavedBytes(exclude=list(meta.parameters())) as saved:
        run(meta, x)
    return saved.total
