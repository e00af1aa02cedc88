"""Connectors: grouped encoder features -> LM-width tokens.

Notation: B batch, G groups (video frames or audio windows), P encoder tokens per group, N output
tokens per group, c encoder width, q Q-Former width, d LM width.

Input (B, G, P, c), output (B, G·N, d). Grouping keeps the token budget per frame / per audio window
fixed and small (Crab: 32 per frame and per 1-s window; tiny presets: 4).

- ``MLPConnector``: average-pool each group to N tokens (2-D on a square patch grid, 1-D otherwise),
  then Linear-GELU-Linear (LLaVA-style projector).
- ``QFormerConnector``: N learned queries per group attend to the group's P tokens through a few
  pre-LN blocks (self-attention, cross-attention, FFN), then the same MLP to d. This is our own small
  BLIP-2-style Q-Former, without the unused BERT text branch.
- ``PoolConnector``: omni towers already project to d; optional 1-D average pooling over time only.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["MLPConnector", "PoolConnector", "QFormerConnector", "build_connector", "pool_tokens"]


def pool_tokens(x: torch.Tensor, n: int, spatial: bool) -> torch.Tensor:
    """Average-pool (M, P, c) to (M, n, c); 2-D over a sqrt(P) grid when ``spatial`` and both are squares."""
    M, P, c = x.shape
    side, out_side = math.isqrt(P), math.isqrt(n)
    if spatial and side * side == P and out_side * out_side == n:
        grid = x.transpose(1, 2).reshape(M, c, side, side)  # (M, c, s, s)
        return F.adaptive_avg_pool2d(grid, out_side).flatten(2).transpose(1, 2)  # (M, n, c)
    return F.adaptive_avg_pool1d(x.transpose(1, 2), n).transpose(1, 2)  # (M, n, c)


def _mlp(d_in: int, d_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(d_in, d_out), nn.GELU(), nn.Linear(d_out, d_out))


class MLPConnector(nn.Module):
    """Pool each group to N tokens, then Linear-GELU-Linear to the LM width."""

    def __init__(self, enc_dim: int, lm_dim: int, tokens_per_group: int, spatial: bool) -> None:
        super().__init__()
        self.tokens_per_group = tokens_per_group
        self.spatial = spatial
        self.proj = _mlp(enc_dim, lm_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, G, P, c = x.shape
        pooled = pool_tokens(x.reshape(B * G, P, c), self.tokens_per_group, self.spatial)  # (B·G, N, c)
        return self.proj(pooled).reshape(B, G * self.tokens_per_group, -1)  # (B, G·N, d)


class _QFormerBlock(nn.Module):
    """Pre-LN block: queries self-attend, cross-attend to the group's features, then an FFN."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.norm_self, self.norm_cross, self.norm_ffn = (
            nn.LayerNorm(dim),
            nn.LayerNorm(dim),
            nn.LayerNorm(dim),
        )
        self.self_attn = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.cross_attn = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.ffn = nn.Sequential(nn.Linear(dim, 4 * dim), nn.GELU(), nn.Linear(4 * dim, dim))

    def forward(self, q: torch.Tensor, kv: torch.Tensor) -> torch.Tensor:
        h = self.norm_self(q)
        q = q + self.self_attn(h, h, h, need_weights=False)[0]  # (M, N, q)
        q = q + self.cross_attn(self.norm_cross(q), kv, kv, need_weights=False)[0]  # (M, N, q)
        return q + self.ffn(self.norm_ffn(q))


class QFormerConnector(nn.Module):
    """N learned queries per group, a few cross-attention blocks, then an MLP to the LM width."""

    def __init__(
        self, enc_dim: int, lm_dim: int, tokens_per_group: int, dim: int, layers: int, heads: int
    ) -> None:
        super().__init__()
        self.tokens_per_group = tokens_per_group
        self.queries = nn.Parameter(torch.randn(1, tokens_per_group, dim) * 0.02)  # BLIP-2 init N(0, 0.02)
        self.in_norm = nn.LayerNorm(enc_dim)
        self.in_proj = nn.Linear(enc_dim, dim)
        self.blocks = nn.ModuleList(_QFormerBlock(dim, heads) for _ in range(layers))
        self.out_norm = nn.LayerNorm(dim)
        self.proj = _mlp(dim, lm_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, G, P, c = x.shape
        kv = self.in_proj(self.in_norm(x.reshape(B * G, P, c)))  # (B·G, P, q)
        q = self.queries.expand(B * G, -1, -1)  # (B·G, N, q)
        for block in self.blocks:
            q = block(q, kv)
        return self.proj(self.out_norm(q)).reshape(B, G * self.tokens_per_group, -1)  # (B, G·N, d)


class PoolConnector(nn.Module):
    """Omni connector: features are already d wide; optionally average ``factor`` consecutive tokens."""

    def __init__(self, factor: int = 1) -> None:
        super().__init__()
        self.factor = factor

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, G, P, d = x.shape
        x = x.reshape(B, G * P, d)  # (B, G·P, d)
        if self.factor == 1:
            return x
        return F.avg_pool1d(x.transpose(1, 2), self.factor, ceil_mode=True).transpose(1, 2)  # (B, ⌈G·P/f⌉, d)


def build_connector(
    kind: str,
    enc_dim: int,
    lm_dim: int,
    tokens_per_group: int,
    *,
    spatial: bool,
    qformer_dim: int = 32,
    qformer_layers: int = 2,
    qformer_heads: int = 2,
) -> nn.Module:
    """Connector by name ("mlp" or "qformer")."""
    if kind == "mlp":
        return MLPConnector(enc_dim, lm_dim, tokens_per_group, spatial)
    if kind == "qformer":
        return QFormerConnector(enc_dim, lm_dim, tokens_per_group, qformer_dim, qformer_layers, qformer_heads)
    raise ValueError(f"connector={kind!r}; valid: 'mlp', 'qformer'")
