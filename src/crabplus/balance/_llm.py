"""Branches for the AV-LLM: unimodal "heads" are modality-dropped forward passes.

The multi-loss is LM(AV) + LM(audio only) + LM(video only); a branch's score is exp(-CE) of its answer
tokens per sequence (the geometric-mean gold-token probability). The coefficients then scale the
gradients of ``model.modality_parameters()`` (connectors and encoder adapters) via
`ModalityBalanceCallback`; the shared LM and LoRA parameters are never scaled.

How a modality is dropped (prompt without its placeholder, media set to None) is the caller's business:
it passes ``run(keep)`` that runs the model with only the modalities in ``keep``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from crabplus.balance._branches import Branch, ForwardOutputs, branch_from_sequence_loss

__all__ = ["dropped_modality_outputs", "sequence_cross_entropy"]


def sequence_cross_entropy(logits: Tensor, labels: Tensor, ignore_index: int = -100) -> Tensor:
    """Per-sequence mean next-token CE over answer tokens: logits (B, L, V), labels (B, L) -> (B,).

    Causal shift as in the LM loss: position t predicts label t + 1. Sequences without answer tokens
    get CE 0.
    """
    logits, labels = logits[:, :-1].float(), labels[:, 1:]  # (B, L-1, V), (B, L-1)
    mask = labels != ignore_index  # (B, L-1)
    ce = F.cross_entropy(logits.transpose(1, 2), labels.clamp_min(0), reduction="none")  # (B, L-1)
    return (ce * mask).sum(1) / mask.sum(1).clamp_min(1)  # (B,)


def _branch(output: Any) -> Branch:
    """A branch from a model output with ``loss``, ``labels`` and ``logits`` or a per-token ``token_loss``
    (the model's answer-positions-only path); the loss stays the model's own."""
    with torch.no_grad():
        token_loss = getattr(output, "token_loss", None)
        if token_loss is not None:
            answer = output.labels[:, 1:] != -100  # (B, L-1)
            per_seq = token_loss.detach().sum(1) / answer.sum(1).clamp_min(1)  # (B,)
        else:
            per_seq = sequence_cross_entropy(output.logits.detach(), output.labels)  # (B,)
    return Branch(loss=output.loss, p_true=branch_from_sequence_loss(per_seq).p_true)


def dropped_modality_outputs(
    run: Callable[[tuple[str, ...]], Any],
    modalities: Sequence[str] = ("audio", "video"),
    unimodal: bool = True,
) -> ForwardOutputs:
    """Fused pass with every modality, then (if ``unimodal``) one pass per modality with the others dropped.

    Args:
        run: ``run(keep)`` -> model output (``loss`` scalar, ``logits`` (B, L, V), ``labels`` (B, L)) for
            a forward with only the modalities in ``keep``.
        modalities: the balanced modalities.
        unimodal: run the unimodal passes (set from ``strategy.needs_unimodal``; fused-only skips them).

    Returns:
        `ForwardOutputs` with ``fused`` and one unimodal branch per modality (keyed by modality).
    """
    out = ForwardOutputs(fused=_branch(run(tuple(modalities))))
    if unimodal:
        out.unimodal = {m: _branch(run((m,))) for m in modalities}
    return out
