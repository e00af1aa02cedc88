"""What a forward pass hands to a balancing strategy: one loss and one score per branch.

A *branch* is one prediction of the label: the fused prediction, one unimodal prediction per modality
(a unimodal head for the classifier, a modality-dropped forward pass for the AV-LLM), and, for OGM-GE, the
fused layer's per-modality halves. Every branch gives

- ``loss``: differentiable scalar, the mean cross-entropy over the batch;
- ``p_true``: (B,) detached probability of the gold label (classifier: softmax(z)[y]; LM: exp(-CE) of the
  answer, the per-sequence geometric mean of the gold-token probabilities).

Scores are reduced as (sum of p_true, count) so that DDP ranks can all-reduce them exactly before
forming s_i = sum / count.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import Tensor

__all__ = [
    "Branch",
    "ForwardOutputs",
    "branch_from_logits",
    "branch_from_sequence_loss",
    "global_scores",
    "score_stats",
]


@dataclass
class Branch:
    """One prediction of the label. ``loss``: scalar; ``p_true``: (B,) detached, in [0, 1]."""

    loss: Tensor
    p_true: Tensor


@dataclass
class ForwardOutputs:
    """All branches of one training forward.

    Attributes:
        fused: the multimodal prediction.
        unimodal: modality -> unimodal head (or modality-dropped pass).
        slices: modality -> the fused layer's own per-modality estimate (OGM-GE); None when the fusion
            does not decompose (FiLM) or for the AV-LLM.
    """

    fused: Branch
    unimodal: dict[str, Branch] = field(default_factory=dict)
    slices: dict[str, Branch] | None = None


def branch_from_logits(logits: Tensor, labels: Tensor) -> Branch:
    """Cross-entropy and gold-class probability of class logits (B, C) for labels (B,)."""
    loss = F.cross_entropy(logits, labels)
    with torch.no_grad():
        p_true = logits.float().softmax(-1).gather(1, labels[:, None]).squeeze(1)  # (B,)
    return Branch(loss=loss, p_true=p_true)


def branch_from_sequence_loss(per_sequence_ce: Tensor) -> Branch:
    """Branch from per-sequence mean answer-token cross-entropies (B,) of a language model.

    s = exp(-CE) is the geometric mean probability of the gold answer tokens.
    """
    return Branch(loss=per_sequence_ce.mean(), p_true=torch.exp(-per_sequence_ce.detach().float()))


def score_stats(branches: dict[str, Branch], modalities: tuple[str, ...]) -> Tensor:
    """Per-rank (sum of p_true, count) for each modality, in the order of ``modalities``.

    Returns:
        (M, 2) float64: column 0 the sum of gold probabilities, column 1 the number of samples.
    """
    missing = [m for m in modalities if m not in branches]
    if missing:
        raise KeyError(f"no branch for modalities {missing}; got {sorted(branches)}")
    device = branches[modalities[0]].p_true.device
    sums = torch.stack([branches[m].p_true.double().sum() for m in modalities])  # (M,)
    counts = torch.tensor(
        [float(branches[m].p_true.numel()) for m in modalities], dtype=torch.float64, device=device
    )  # (M,)
    return torch.stack([sums, counts], dim=1)  # (M, 2)


def global_scores(stats: Tensor) -> Tensor:
    """s_i = (sum of p_true over the global batch) / (global count), identical on every rank.

    The (sum, count) pairs are all-reduced, not the per-rank means, so ranks with unequal batch sizes
    are weighted correctly and every rank forms the same s, hence the same k.
    This is a collective: under DDP every rank must call it at the same point.

    Args:
        stats: (M, 2) per-rank sums and counts from `score_stats` (possibly summed over micro-batches).

    Returns:
        (M,) float64 scores.
    """
    stats = stats.clone()
    if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
        dist.all_reduce(stats, op=dist.ReduceOp.SUM)
    return stats[:, 0] / stats[:, 1].clamp_min(1.0)  # (M,)
