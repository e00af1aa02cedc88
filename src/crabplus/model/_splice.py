"""Splice media features into a token sequence at the placeholder positions.

Notation: B batch, L text length, L' spliced length, N_m feature tokens per sample of modality m,
d LM width.

Each placeholder token of modality m (one per sample at most) is replaced by that sample's N_m feature
tokens; a sample whose prompt has no placeholder for m ignores its m features (modality-mixed batches
work). Padding is dropped and rebuilt on the same side as the input (left for generation, right for
training), so the literal per-sample construction "text before, features, text after, then pad" is
what the vectorised scatter below produces (``tests/model/test_splice.py`` checks exactly that).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import torch

from crabplus.model._tokens import MODALITY_IDS

__all__ = ["Spliced", "detect_padding_side", "splice"]

IGNORE_INDEX = -100


@dataclass
class Spliced:
    """Result of splicing (all (B, L') except ``inputs_embeds`` (B, L', d)).

    ``input_ids`` holds the placeholder id at every media position and the pad id on padding; it is
    what the sequence "is" token-wise (used to find ``<mask>`` and to build M-RoPE positions).
    """

    input_ids: torch.Tensor
    inputs_embeds: torch.Tensor
    attention_mask: torch.Tensor
    labels: torch.Tensor | None
    modality_ids: torch.Tensor


def detect_padding_side(attention_mask: torch.Tensor) -> str:
    """'left' when some row starts with padding and every row ends with a real token, else 'right'."""
    mask = attention_mask.bool()
    if mask[:, -1].all() and not mask[:, 0].all():
        return "left"
    return "right"


def _check_placeholders(
    input_ids: torch.Tensor,
    valid: torch.Tensor,
    features: Mapping[str, torch.Tensor],
    placeholder_ids: Mapping[str, int],
) -> None:
    """Raise where a placeholder has no features or occurs twice in one sample."""
    for modality, pid in placeholder_ids.items():
        per_row = ((input_ids == pid) & valid).sum(1)  # (B,)
        if modality not in features and bool(per_row.any()):
            rows = per_row.nonzero().flatten().tolist()
            raise ValueError(
                f"samples {rows} have a {modality} placeholder but no '{modality}' tensor was given"
            )
        if bool((per_row > 1).any()):
            rows = (per_row > 1).nonzero().flatten().tolist()
            raise ValueError(f"samples {rows} have more than one {modality} placeholder (one is supported)")


def splice(
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    labels: torch.Tensor | None,
    features: Mapping[str, torch.Tensor],
    placeholder_ids: Mapping[str, int],
    embed: Callable[[torch.Tensor], torch.Tensor],
    pad_id: int,
    padding_side: str | None = None,
) -> Spliced:
    """Replace placeholders by features.

    Args:
        input_ids: (B, L) token ids.
        attention_mask: (B, L) 1 on real tokens.
        labels: (B, L) or None; -100 where no loss.
        features: modality -> (B, N_m, d) features of every sample (rows without placeholder unused).
        placeholder_ids: modality -> placeholder token id.
        embed: token embedding (the LM's input embeddings).
        pad_id: id written on padding positions.
        padding_side: "left"/"right"; None detects it from ``attention_mask``.
    """
    side = padding_side or detect_padding_side(attention_mask)
    B, L = input_ids.shape
    device = input_ids.device
    valid = attention_mask.bool()  # (B, L)
    _check_placeholders(input_ids, valid, features, placeholder_ids)
    counts = valid.long()  # (B, L) output tokens per input token
    hits: dict[str, torch.Tensor] = {}
    for modality, feats in features.items():
        hit = (input_ids == placeholder_ids[modality]) & valid  # (B, L)
        hits[modality] = hit
        counts = torch.where(hit, feats.shape[1], counts)
    lengths = counts.sum(1)  # (B,)
    total = int(lengths.max().item()) if B else 0
    offset = (total - lengths) if side == "left" else torch.zeros_like(lengths)  # (B,)
    starts = counts.cumsum(1) - counts + offset[:, None]  # (B, L) first output slot of each token

    is_text = valid.clone()
    for hit in hits.values():
        is_text &= ~hit
    bt, jt = is_text.nonzero(as_tuple=True)
    dest = starts[bt, jt]
    out_ids = torch.full((B, total), pad_id, dtype=input_ids.dtype, device=device)
    out_ids[bt, dest] = input_ids[bt, jt]
    out_mask = torch.zeros((B, total), dtype=attention_mask.dtype, device=device)
    out_mask[bt, dest] = 1
    modality_ids = torch.zeros((B, total), dtype=torch.long, device=device)
    out_labels = None
    if labels is not None:
        out_labels = torch.full((B, total), IGNORE_INDEX, dtype=labels.dtype, device=device)
        out_labels[bt, dest] = labels[bt, jt]

    slots: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
    for modality, hit in hits.items():
        bm, jm = hit.nonzero(as_tuple=True)  # (k,)
        n = features[modality].shape[1]
        pos = starts[bm, jm][:, None] + torch.arange(n, device=device)  # (k, N_m)
        rows = bm[:, None].expand(-1, n)  # (k, N_m)
        out_ids[rows, pos] = placeholder_ids[modality]
        out_mask[rows, pos] = 1
        modality_ids[rows, pos] = MODALITY_IDS[modality]
        slots[modality] = (bm, pos)

    embeds = embed(out_ids)  # (B, L', d)
    for modality, (bm, pos) in slots.items():
        rows = bm[:, None].expand_as(pos)
        values = features[modality][bm].to(embeds.dtype)  # (k, N_m, d)
        embeds = embeds.index_put((rows, pos), values)
    return Spliced(out_ids, embeds, out_mask, out_labels, modality_ids)
