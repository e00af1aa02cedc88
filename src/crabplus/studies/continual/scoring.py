"""STELLA's scoring pass: importance, candidates, query summaries and replay correlation.

`score_clips` runs the full, unmasked clips through the backbone without gradient, trains the AVM
on the detached codes (VAM loss), and returns per-clip scores. `prune_probabilities` pairs each current
clip with one replayed clip (clip n with replay n, cycling when fewer were replayed) and computes p^v,
p^a from the replayed clip's stored query summaries.

Notation: B clips, H heads, d_h head width, L_V / L_A patches, K_v / K_a candidate counts.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from crabplus.studies.continual.avm import AVMatching
from crabplus.studies.continual.backbone import AVBackbone
from crabplus.studies.continual.correlation import replay_correlation_fast
from crabplus.studies.continual.importance import patch_importance, query_summary, top_candidates

__all__ = ["ClipScores", "score_clips", "prune_probabilities"]


@dataclass
class ClipScores:
    """Per-clip STELLA scores (all detached).

    Attributes:
        imp_v, imp_a: importance I^v (B, L_V), I^a (B, L_A).
        cand_v, cand_a: candidate masks C_v, C_a (bool, same shapes).
        query_v, query_a: summaries q̄^v, q̄^a (B, H, d_h).
        keys_v, keys_a: AVM keys (B, H, L, d_h); queries_v, queries_a: AVM queries.
        vam_loss: the AVM's matching loss (carries gradient into the AVM only).
    """

    imp_v: torch.Tensor
    imp_a: torch.Tensor
    cand_v: torch.Tensor
    cand_a: torch.Tensor
    query_v: torch.Tensor
    query_a: torch.Tensor
    keys_v: torch.Tensor
    keys_a: torch.Tensor
    queries_v: torch.Tensor
    queries_a: torch.Tensor
    vam_loss: torch.Tensor


def score_clips(
    backbone: AVBackbone, avm: AVMatching, pv: torch.Tensor, pa: torch.Tensor, k_v: int, k_a: int, tau: float
) -> ClipScores:
    """Steps 1-4 for patches pv (B, L_V, ·), pa (B, L_A, ·)."""
    with torch.no_grad():
        hv, ha = backbone.encode(pv, pa)  # (B, L_V, d), (B, L_A, d)
    vam, out = avm.vam_loss(hv, ha)
    with torch.no_grad():
        imp_v, imp_a = patch_importance(out.logits_av.detach(), out.logits_va.detach(), tau)
        cand_v, cand_a = top_candidates(imp_v, k_v), top_candidates(imp_a, k_a)
        q_v, q_a = out.q_v.detach(), out.q_a.detach()
        return ClipScores(
            imp_v=imp_v,
            imp_a=imp_a,
            cand_v=cand_v,
            cand_a=cand_a,
            query_v=query_summary(q_v, imp_v, cand_v),
            query_a=query_summary(q_a, imp_a, cand_a),
            keys_v=out.k_v.detach(),
            keys_a=out.k_a.detach(),
            queries_v=q_v,
            queries_a=q_a,
            vam_loss=vam,
        )


def prune_probabilities(
    scores: ClipScores, past_query_v: torch.Tensor, past_query_a: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Step 5: p^v (B, L_V) and p^a (B, L_A) against replayed summaries (R, H, d_h), R ≤ B.

    Video patches are compared with the replayed clip's AUDIO summary and vice versa.
    """
    b = scores.imp_v.shape[0]
    pair = torch.arange(b) % past_query_v.shape[0]  # current n <-> replay n (cyclic when R < B)
    with torch.no_grad():
        p_v = replay_correlation_fast(
            scores.keys_v, scores.queries_a, scores.imp_a, scores.cand_v, scores.cand_a, past_query_a[pair]
        )
        p_a = replay_correlation_fast(
            scores.keys_a, scores.queries_v, scores.imp_v, scores.cand_a, scores.cand_v, past_query_v[pair]
        )
    return p_v, p_a
