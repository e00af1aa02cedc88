"""A tiny CAV-MAE-style audio-video backbone: patch encoders, shared layers, joint MAE decoder.

CAV-MAE-style, as in STELLA. Each modality has its own patch embedding, position embedding and
`depth_specific` transformer layers; `depth_shared` layers with shared weights follow, then a
modality-specific LayerNorm. The contrastive branch mean-pools the encoded (visible) tokens. The MAE
decoder runs jointly over the concatenated video and audio tokens (visible codes + mask tokens at the
target positions) and predicts normalized pixels / log-mel values of the target patches.

Decision: encoding and decoding take explicit index tensors (which patches are visible, which are
reconstruction targets), so one code path serves full-clip scoring, MAE masking, and STELLA's
selected-patch training (dropped patches are simply in neither index set).

Notation: B batch, L_V / L_A patch counts, n_v / n_a visible tokens, m_v / m_a target tokens, d width.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from crabplus.studies.continual.config import BackboneConfig
from crabplus.studies.continual.patches import fit_audio, fit_video, patchify_audio, patchify_video

__all__ = ["Block", "AVBackbone", "gather_tokens"]


def gather_tokens(x: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """Rows of `x` (B, L, D) at `index` (B, n) -> (B, n, D)."""
    return torch.gather(x, 1, index.unsqueeze(-1).expand(-1, -1, x.shape[-1]))


class Block(nn.Module):
    """Pre-norm transformer layer (self-attention + MLP, ratio 2)."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.norm1 = nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, 2 * dim), nn.GELU(), nn.Linear(2 * dim, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, d = x.shape
        qkv = self.qkv(self.norm1(x)).reshape(b, n, 3, self.heads, d // self.heads)
        q, k, v = qkv.permute(2, 0, 3, 1, 4)  # each (B, H, n, d_h)
        att = F.scaled_dot_product_attention(q, k, v)  # (B, H, n, d_h)
        x = x + self.proj(att.transpose(1, 2).reshape(b, n, d))
        return x + self.mlp(self.norm2(x))


class AVBackbone(nn.Module):
    """Audio-video masked autoencoder with a contrastive branch (plain nn.Module, no Lightning)."""

    def __init__(self, cfg: BackboneConfig) -> None:
        super().__init__()
        self.cfg = cfg
        d, dd = cfg.dim, cfg.decoder_dim
        self.video_embed = nn.Linear(3 * cfg.video_patch**2, d)
        self.audio_embed = nn.Linear(cfg.audio_patch**2, d)
        self.pos_v = nn.Parameter(0.02 * torch.randn(1, cfg.num_video_patches, d))
        self.pos_a = nn.Parameter(0.02 * torch.randn(1, cfg.num_audio_patches, d))
        self.blocks_v = nn.ModuleList(Block(d, cfg.heads) for _ in range(cfg.depth_specific))
        self.blocks_a = nn.ModuleList(Block(d, cfg.heads) for _ in range(cfg.depth_specific))
        self.blocks_u = nn.ModuleList(Block(d, cfg.heads) for _ in range(cfg.depth_shared))
        self.norm_v, self.norm_a = nn.LayerNorm(d), nn.LayerNorm(d)
        self.dec_embed = nn.Linear(d, dd)
        self.mask_token = nn.Parameter(0.02 * torch.randn(1, 1, dd))
        self.dec_pos_v = nn.Parameter(0.02 * torch.randn(1, cfg.num_video_patches, dd))
        self.dec_pos_a = nn.Parameter(0.02 * torch.randn(1, cfg.num_audio_patches, dd))
        self.dec_blocks = nn.ModuleList(Block(dd, cfg.heads) for _ in range(cfg.decoder_depth))
        self.dec_norm = nn.LayerNorm(dd)
        self.head_v = nn.Linear(dd, 3 * cfg.video_patch**2)
        self.head_a = nn.Linear(dd, cfg.audio_patch**2)

    def patches(self, video: torch.Tensor, audio: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Batch media -> (B, L_V, 3P²) video and (B, L_A, P²) audio patches at the configured sizes."""
        pv = patchify_video(fit_video(video, self.cfg), self.cfg.video_patch)
        pa = patchify_audio(fit_audio(audio, self.cfg), self.cfg.audio_patch)
        return pv, pa

    def encode(
        self,
        pv: torch.Tensor,
        pa: torch.Tensor,
        idx_v: torch.Tensor | None = None,
        idx_a: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Encode the patches at `idx_v` (B, n_v) / `idx_a` (B, n_a) (all patches when None).

        Returns the normed codes (B, n_v, d) and (B, n_a, d). Each token keeps its original position
        embedding, gathered by index.
        """
        b = pv.shape[0]
        pos_v, pos_a = self.pos_v.expand(b, -1, -1), self.pos_a.expand(b, -1, -1)  # (B, L, d)
        if idx_v is not None:  # gather before embedding: only the encoded patches are projected
            pv, pos_v = gather_tokens(pv, idx_v), gather_tokens(pos_v, idx_v)  # (B, n_v, ·)
        if idx_a is not None:
            pa, pos_a = gather_tokens(pa, idx_a), gather_tokens(pos_a, idx_a)  # (B, n_a, ·)
        xv = self.video_embed(pv) + pos_v  # (B, n_v, d)
        xa = self.audio_embed(pa) + pos_a  # (B, n_a, d)
        for blk_v, blk_a in zip(self.blocks_v, self.blocks_a):
            xv, xa = blk_v(xv), blk_a(xa)
        for blk in self.blocks_u:
            xv, xa = blk(xv), blk(xa)
        return self.norm_v(xv), self.norm_a(xa)

    @staticmethod
    def pooled(hv: torch.Tensor, ha: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean-pooled clip embeddings ē^v, ē^a (B, d) — the contrastive branch and the distillation target."""
        return hv.mean(1), ha.mean(1)

    def decode(
        self,
        hv: torch.Tensor,
        ha: torch.Tensor,
        vis: tuple[torch.Tensor, torch.Tensor],
        tgt: tuple[torch.Tensor, torch.Tensor],
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Predict the target patches jointly from both modalities' visible codes.

        Args:
            hv, ha: visible codes (B, n_v, d), (B, n_a, d).
            vis: patch indices of the visible tokens, (B, n_v) and (B, n_a).
            tgt: patch indices of the targets, (B, m_v) and (B, m_a).

        Returns:
            Predictions (B, m_v, 3P²) and (B, m_a, P²).
        """
        b, m_v, m_a = hv.shape[0], tgt[0].shape[1], tgt[1].shape[1]
        dv = self.dec_embed(hv) + gather_tokens(self.dec_pos_v.expand(b, -1, -1), vis[0])  # (B, n_v, dd)
        da = self.dec_embed(ha) + gather_tokens(self.dec_pos_a.expand(b, -1, -1), vis[1])  # (B, n_a, dd)
        mv = self.mask_token + gather_tokens(self.dec_pos_v.expand(b, -1, -1), tgt[0])  # (B, m_v, dd)
        ma = self.mask_token + gather_tokens(self.dec_pos_a.expand(b, -1, -1), tgt[1])  # (B, m_a, dd)
        x = torch.cat([mv, ma, dv, da], dim=1)  # (B, m_v + m_a + n_v + n_a, dd)
        for blk in self.dec_blocks:
            x = blk(x)
        x = self.dec_norm(x)
        return self.head_v(x[:, :m_v]), self.head_a(x[:, m_v : m_v + m_a])
