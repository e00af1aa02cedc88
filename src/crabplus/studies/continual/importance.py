"""Localized patch importance scoring and query summaries (STELLA).

Notation: B clips, H heads, d_h head width, L_A audio and L_V video patches, τ the temperature.

    I^v_j = (1/(H·L_A)) Σ_h Σ_i softmax_j( A^{a→v}_h[i, :] / τ )      Σ_j I^v_j = 1
    I^a_i = (1/(H·L_V)) Σ_h Σ_j softmax_i( A^{v→a}_h[j, :] / τ )      Σ_i I^a_i = 1

I^v_j is how much, on average over heads and audio queries, the audio attends to video patch j: how
strongly the patch is intertwined with the other modality. Candidates C are the top-K of I.

    q̄_h = Σ_{j∈C} I_j q_{h,j} / Σ_{j∈C} I_j        (importance-weighted mean of candidate queries)
"""

from __future__ import annotations

import torch

__all__ = ["key_importance", "patch_importance", "top_candidates", "query_summary"]


def key_importance(logits: torch.Tensor, tau: float) -> torch.Tensor:
    """Importance of each key: logits (B, H, L_q, L_k) -> (B, L_k), the mean temperature-softmax."""
    return (logits / tau).softmax(dim=-1).mean(dim=(1, 2))  # (B, L_k)


def patch_importance(
    logits_av: torch.Tensor, logits_va: torch.Tensor, tau: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """I^v (B, L_V) from A^{a→v} (B, H, L_A, L_V) and I^a (B, L_A) from A^{v→a} (B, H, L_V, L_A)."""
    return key_importance(logits_av, tau), key_importance(logits_va, tau)


def top_candidates(importance: torch.Tensor, k: int) -> torch.Tensor:
    """Boolean candidate mask (B, L): the top-k entries of `importance` (B, L) per row."""
    idx = importance.topk(k, dim=-1).indices  # (B, k)
    return torch.zeros_like(importance, dtype=torch.bool).scatter_(1, idx, True)


def query_summary(queries: torch.Tensor, importance: torch.Tensor, candidates: torch.Tensor) -> torch.Tensor:
    """q̄ (B, H, d_h): importance-weighted mean over candidates of queries (B, H, L, d_h).

    Args:
        queries: per-head queries of one modality (B, H, L, d_h).
        importance: I of that modality (B, L).
        candidates: candidate mask C (B, L).
    """
    w = importance * candidates  # (B, L)
    w = w / w.sum(-1, keepdim=True).clamp_min(1e-12)
    return torch.einsum("bl,bhld->bhd", w, queries)
