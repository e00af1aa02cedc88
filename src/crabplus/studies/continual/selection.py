"""Probabilistic patch selection (STELLA).

Video (spatio-temporal patches):
    m_j ~ Bernoulli(p_j);  Ĩ_j = I_j · (1 − m_j);  keep the first K of an ordering drawn without
    replacement with probability ∝ Ĩ.
The ordering is drawn as Gumbel-top-k: key_j = log Ĩ_j + g_j with g_j ~ Gumbel(0, 1) (equivalently
Ĩ_j / E_j with E_j ~ Exp(1)), which is exactly sequential sampling without replacement ∝ Ĩ. Pruned
patches (Ĩ = 0) get key −inf and sort last; they are kept only if fewer than K patches are unpruned
(impossible for ρ ≥ 0.5, since only the K candidates can be pruned).

Audio (temporal localization, whole-frequency contiguous time segments):
    1. time profile: sum I over the n_freq bins -> n_time steps; chunk scores u_c = mean over W steps;
    2. chunk order without replacement ∝ u (Gumbel-top-k);
    3. walk the chunks in that order adding their unpruned tokens while the total stays ≤ K;
    4. the boundary chunk (the first that would overflow K) contributes its remaining K − total
       unpruned tokens from one side, the released rule: the side next to an *adjacent* chunk already
       walked, so the kept run stays contiguous; when neither or both neighbours were walked, a fair
       coin from the run's generator picks the side;
    5. later chunks are dropped.
Vectorized over the batch (the reference code loops per sample in Python). `chunk_keep_mask` is the
deterministic part (given prune mask, walk order and coins), so its probabilities can be enumerated.

First step (empty buffer): deterministic top-K of I for both modalities (`select_topk`).
All functions return sorted patch indices (B, K) and draw only from the given `torch.Generator`.
"""

from __future__ import annotations

import torch

__all__ = ["chunk_keep_mask", "gumbel_keys", "select_audio_chunks", "select_topk", "select_video"]


def gumbel_keys(weights: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Perturbed log-weights whose descending order is a draw without replacement ∝ `weights` (…, n)."""
    u = torch.rand(weights.shape, generator=generator, device=weights.device).clamp(1e-12, 1 - 1e-7)
    return weights.log() - (-u.log()).log()  # log w + Gumbel(0,1); w = 0 -> −inf


def select_topk(importance: torch.Tensor, k: int) -> torch.Tensor:
    """Deterministic top-k patch indices (B, k), sorted; used while the buffer is empty."""
    return importance.topk(k, dim=-1).indices.sort(dim=-1).values


def _prune(
    importance: torch.Tensor, prune_prob: torch.Tensor, generator: torch.Generator | None
) -> torch.Tensor:
    """Bernoulli prune mask m (B, L), True = pruned, m_j ~ Bernoulli(p_j)."""
    return torch.rand(importance.shape, generator=generator, device=importance.device) < prune_prob


def select_video(
    importance: torch.Tensor, prune_prob: torch.Tensor, k: int, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Kept video patch indices (B, k): Bernoulli pruning by p, then Gumbel-top-k ∝ Ĩ.

    Args:
        importance: I^v (B, L_V), positive.
        prune_prob: p^v (B, L_V) in [0, 1] (0 outside the candidates).
        k: K_v.
        generator: source of all randomness.
    """
    pruned = _prune(importance, prune_prob, generator)  # (B, L_V)
    kept_weight = importance * (~pruned)  # Ĩ (B, L_V)
    keys = gumbel_keys(kept_weight, generator)  # (B, L_V)
    return keys.topk(k, dim=-1).indices.sort(dim=-1).values


def _keeps_left_side(walked: torch.Tensor, boundary: torch.Tensor, coin_left: torch.Tensor) -> torch.Tensor:
    """Whether the boundary chunk keeps its left (earliest) tokens, the released rule.

    Left when only its left neighbour was walked, right when only its right neighbour was, else the
    coin. walked: (B, C) chunks walked before the boundary; boundary: (B, C) one-hot (or all False);
    coin_left: (B,) bool. Returns (B,) bool.
    """
    no = torch.zeros_like(walked[:, :1])
    left_walked = (boundary & torch.cat([no, walked[:, :-1]], 1)).any(1)  # chunk c-1 walked, (B,)
    right_walked = (boundary & torch.cat([walked[:, 1:], no], 1)).any(1)  # chunk c+1 walked, (B,)
    return torch.where(left_walked == right_walked, coin_left, left_walked)


def chunk_keep_mask(
    pruned: torch.Tensor, order: torch.Tensor, coin_left: torch.Tensor, k: int, chunk_width: int, n_freq: int
) -> torch.Tensor:
    """Steps 3-5 of the audio rule for given randomness: which tokens are kept (B, L_A) bool.

    Args:
        pruned: (B, L_A) Bernoulli prune mask, True = pruned; time-major tokens (t·n_freq + f).
        order: (B, C) chunk walk order (a permutation of the C chunks).
        coin_left: (B,) the coin: keep the boundary chunk's left side when no single walked neighbour
            decides.
        k: K_a, the token budget.
        chunk_width: W time steps per chunk.
        n_freq: frequency patches per time step.

    At most K tokens are kept; fewer only when fewer than K are unpruned.
    """
    b, length = pruned.shape
    n_chunks = order.shape[1]
    unpruned = (~pruned).reshape(b, n_chunks, chunk_width * n_freq)  # (B, C, W·n_freq)
    counts = torch.gather(unpruned.sum(-1), 1, order)  # (B, C), in walk order
    before = counts.cumsum(1) - counts  # tokens taken before each chunk in the walk
    walked_o = before + counts <= k  # (B, C) walk order: a prefix, taken whole
    boundary_o = (~walked_o) & (before < k)  # the first chunk that would overflow
    remaining_o = (k - before).clamp_min(0) * boundary_o  # tokens it contributes
    inv = order.argsort(dim=1)  # walk order -> chunk position
    walked = torch.gather(walked_o, 1, inv)  # (B, C) in time order
    boundary = torch.gather(boundary_o, 1, inv)
    remaining = torch.gather(remaining_o, 1, inv)
    rank_left = unpruned.cumsum(-1) - 1  # (B, C, W·n_freq): rank among unpruned from the left
    rank_right = unpruned.flip(-1).cumsum(-1).flip(-1) - 1
    left = _keeps_left_side(walked, boundary, coin_left)[:, None, None]  # (B, 1, 1)
    rank = torch.where(left, rank_left, rank_right)
    take = unpruned & (walked[..., None] | (boundary[..., None] & (rank < remaining[..., None])))
    return take.reshape(b, length)


def select_audio_chunks(
    importance: torch.Tensor,
    prune_prob: torch.Tensor,
    k: int,
    chunk_width: int,
    n_freq: int,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Kept audio patch indices (B, k) as contiguous whole-frequency time segments.

    Args:
        importance: I^a (B, L_A), time-major (index t·n_freq + f).
        prune_prob: p^a (B, L_A).
        k: K_a.
        chunk_width: W time steps per chunk; n_time must be divisible by W.
        n_freq: frequency patches per time step.
        generator: source of all randomness.
    """
    b, length = importance.shape
    n_time = length // n_freq
    if n_time % chunk_width:
        raise ValueError(f"audio_chunk_width={chunk_width} does not divide {n_time} audio time patches")
    n_chunks = n_time // chunk_width
    pruned = _prune(importance, prune_prob, generator)  # (B, L_A)
    scores = importance.reshape(b, n_chunks, chunk_width * n_freq).sum(-1) / chunk_width  # u_c (B, C)
    order = gumbel_keys(scores, generator).argsort(dim=-1, descending=True)  # (B, C)
    coin_left = torch.rand(b, generator=generator, device=importance.device) < 0.5  # (B,)
    take = chunk_keep_mask(pruned, order, coin_left, k, chunk_width, n_freq).float()  # (B, L_A)
    fill = importance / importance.sum(-1, keepdim=True).clamp_min(1e-12) * 1e-3  # ties, if < K taken
    return (take + fill).topk(k, dim=-1).indices.sort(dim=-1).values
