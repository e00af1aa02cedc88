"""Zero-shot audio↔video retrieval recall and continual summaries.

`retrieval_recall`: query i's positive is gallery item i; R@k is the fraction of queries whose positive
ranks among the top k by cosine similarity (embeddings are L2-normalized by the caller). Ties count in
the query's favour only if strictly fewer than k items score higher (rank = #items scoring higher).

`continual_summary` of a matrix R[l, t] (after training step l, evaluated on domain t; T steps):
    average accuracy   A = (1/T) Σ_t R[T, t]
    average forgetting F = (1/(T−1)) Σ_{t<T} max_{t≤l<T} (R[l, t] − R[T, t])      (textbook definition)
Decision: the textbook F, not the reference tool's variant that also sums over the last task.
"""

from __future__ import annotations

import torch

__all__ = ["retrieval_recall", "continual_summary", "KS"]

KS: tuple[int, ...] = (1, 5, 10)


def _recall(query: torch.Tensor, gallery: torch.Tensor, ks: tuple[int, ...]) -> dict[int, float]:
    sim = query @ gallery.T  # (N, N)
    positive = sim.diagonal().unsqueeze(1)  # (N, 1)
    rank = (sim > positive).sum(1)  # (N,) items strictly better than the positive
    return {k: float((rank < k).float().mean()) for k in ks}


def retrieval_recall(emb_a: torch.Tensor, emb_v: torch.Tensor, ks: tuple[int, ...] = KS) -> dict[str, float]:
    """Recall@k in %, both directions: keys `a2v_r{k}` (audio queries) and `v2a_r{k}` (video queries)."""
    out = {f"a2v_r{k}": 100 * v for k, v in _recall(emb_a, emb_v, ks).items()}
    out |= {f"v2a_r{k}": 100 * v for k, v in _recall(emb_v, emb_a, ks).items()}
    return out


def continual_summary(matrix: torch.Tensor) -> tuple[float, float]:
    """(A, F) from R (T, T) with R[l, t] the score after step l on domain t (entries t > l unused)."""
    t_count = matrix.shape[0]
    final = matrix[-1]  # (T,)
    avg = float(final.mean())
    if t_count < 2:
        return avg, 0.0
    forget = [float((matrix[t:-1, t] - final[t]).max()) for t in range(t_count - 1)]
    return avg, sum(forget) / (t_count - 1)
