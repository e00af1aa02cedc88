"""Replay-guided correlation assessment (STELLA).

Each current clip n is paired with one replayed clip n. For a candidate video patch j ∈ C_v:

    ℓ^past_{h,j} = <k^v_{h,j}, q̄^{a,past}_h> / sqrt(d_h)                 past AUDIO query vs current video key
    ℓ^cur_{h,j}  = Σ_{i∈C_a} I^a_i A^{a→v}_h[i, j] / Σ_{i∈C_a} I^a_i      current audio→video logit
    p^v_j = (1/H) Σ_h σ(ℓ^past_{h,j} − ℓ^cur_{h,j}),   p^v_j = 0 for j ∉ C_v

p is the probability that the patch is explained more by what was learned before than by its own
partner modality now; training on it would overwrite an old audio-visual relation, so it is dropped
with probability p. Audio is symmetric (past video query vs current audio keys, A^{v→a} weighted by I^v).

`replay_correlation` is the literal formula. `replay_correlation_fast` uses that ℓ^cur is linear in
the queries, so ℓ^cur_{h,j} = <k_{h,j}, q̄^{cur}_h>/sqrt(d_h) with the current summary q̄ — one
matrix-vector product instead of a weighted sum over L_other logits. A test checks they agree.
"""

from __future__ import annotations

import torch

from crabplus.studies.continual.importance import query_summary

__all__ = ["replay_correlation", "replay_correlation_fast"]


def replay_correlation(
    keys: torch.Tensor,
    logits_cur: torch.Tensor,
    importance_other: torch.Tensor,
    candidates: torch.Tensor,
    candidates_other: torch.Tensor,
    past_query: torch.Tensor,
) -> torch.Tensor:
    """Prune probability p (B, L) for one modality's patches (the literal formula).

    Args:
        keys: current keys of this modality, k (B, H, L, d_h).
        logits_cur: current other→this logits, e.g. A^{a→v} (B, H, L_other, L).
        importance_other: I of the other modality (B, L_other).
        candidates: C of this modality (B, L), bool.
        candidates_other: C of the other modality (B, L_other), bool.
        past_query: the replayed clip's stored summary of the OTHER modality, q̄^past (B, H, d_h).
    """
    scale = keys.shape[-1] ** -0.5
    past = torch.einsum("bhld,bhd->bhl", keys, past_query) * scale  # (B, H, L)
    w = importance_other * candidates_other  # (B, L_other)
    w = w / w.sum(-1, keepdim=True).clamp_min(1e-12)
    cur = torch.einsum("bi,bhil->bhl", w, logits_cur)  # (B, H, L)
    p = torch.sigmoid(past - cur).mean(1)  # (B, L)
    return p * candidates


def replay_correlation_fast(
    keys: torch.Tensor,
    queries_other: torch.Tensor,
    importance_other: torch.Tensor,
    candidates: torch.Tensor,
    candidates_other: torch.Tensor,
    past_query: torch.Tensor,
) -> torch.Tensor:
    """Same p as `replay_correlation`, from the other modality's queries (B, H, L_other, d_h).

    σ(ℓ^past − ℓ^cur) = σ(<k, q̄^past − q̄^cur>/sqrt(d_h)): one dot product per key and head.
    """
    cur_query = query_summary(queries_other, importance_other, candidates_other)  # (B, H, d_h)
    scale = keys.shape[-1] ** -0.5
    diff = torch.einsum("bhld,bhd->bhl", keys, past_query - cur_query) * scale  # (B, H, L)
    return torch.sigmoid(diff).mean(1) * candidates
