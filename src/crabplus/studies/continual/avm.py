"""AVM: the light audio-video matching cross-attention ("multimodal encoder").

It reads detached backbone codes h^v (B, L_V, d) and h^a (B, L_A, d), applies a LayerNorm per modality
and bias-free q, k, v projections per modality, and returns the raw (pre-softmax) cross-attention
logits in both directions:

    A^{a→v}_h[i, j] = <q^a_{h,i}, k^v_{h,j}> / sqrt(d_h)      (B, H, L_A, L_V)
    A^{v→a}_h[j, i] = <q^v_{h,j}, k^a_{h,i}> / sqrt(d_h)      (B, H, L_V, L_A)

It is trained only by the VAM loss: binary cross-entropy of a matching logit, with half of the batch
true pairs and half paired with a derangement of the other videos. Since the codes are detached, the
loss updates only the AVM.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["AVMatching", "AVMOutput"]


@dataclass
class AVMOutput:
    """Everything STELLA's scoring steps need from one AVM pass.

    Attributes:
        logits_av: A^{a→v} (B, H, L_A, L_V).
        logits_va: A^{v→a} (B, H, L_V, L_A).
        q_v, k_v, v_v: video queries / keys / values (B, H, L_V, d_h).
        q_a, k_a, v_a: audio queries / keys / values (B, H, L_A, d_h).
    """

    logits_av: torch.Tensor
    logits_va: torch.Tensor
    q_v: torch.Tensor
    k_v: torch.Tensor
    v_v: torch.Tensor
    q_a: torch.Tensor
    k_a: torch.Tensor
    v_a: torch.Tensor


class AVMatching(nn.Module):
    """Cross-attention matching module with a VAM head."""

    def __init__(self, in_dim: int, dim: int, heads: int) -> None:
        super().__init__()
        self.heads, self.head_dim = heads, dim // heads
        self.norm_v, self.norm_a = nn.LayerNorm(in_dim), nn.LayerNorm(in_dim)
        self.qkv_v = nn.Linear(in_dim, 3 * dim, bias=False)
        self.qkv_a = nn.Linear(in_dim, 3 * dim, bias=False)
        self.pooler = nn.Sequential(nn.Linear(2 * dim, dim), nn.Tanh())
        self.classifier = nn.Linear(dim, 1)

    def _split(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        b, n, _ = x.shape
        qkv = x.reshape(b, n, 3, self.heads, self.head_dim).permute(2, 0, 3, 1, 4)  # (3, B, H, n, d_h)
        return qkv[0], qkv[1], qkv[2]

    def forward(self, hv: torch.Tensor, ha: torch.Tensor) -> AVMOutput:
        """Cross-attention logits for codes hv (B, L_V, d), ha (B, L_A, d)."""
        q_v, k_v, v_v = self._split(self.qkv_v(self.norm_v(hv)))
        q_a, k_a, v_a = self._split(self.qkv_a(self.norm_a(ha)))
        scale = self.head_dim**-0.5
        logits_av = q_a @ k_v.transpose(-1, -2) * scale  # (B, H, L_A, L_V)
        logits_va = q_v @ k_a.transpose(-1, -2) * scale  # (B, H, L_V, L_A)
        return AVMOutput(logits_av, logits_va, q_v, k_v, v_v, q_a, k_a, v_a)

    def match_logit(self, out: AVMOutput) -> torch.Tensor:
        """Matching logit (B,): mean-pooled cross-attended audio and video, pooler, linear."""
        x_a = out.logits_av.softmax(-1) @ out.v_v  # (B, H, L_A, d_h)
        x_v = out.logits_va.softmax(-1) @ out.v_a  # (B, H, L_V, d_h)
        pooled = torch.cat([x_a.mean(2).flatten(1), x_v.mean(2).flatten(1)], dim=-1)  # (B, 2·dim)
        return self.classifier(self.pooler(pooled)).squeeze(-1)

    def vam_loss(self, hv: torch.Tensor, ha: torch.Tensor) -> tuple[torch.Tensor, AVMOutput]:
        """VAM loss on detached codes; returns it with a no-grad AVM output of the *true* pairs.

        The first half of the batch keeps its true pairs (label 1); the second half pairs audio n with
        video n+1 (mod that half): a derangement, so every label-0 pair is a real mismatch. With fewer
        than 2 clips per half there are no negatives and the loss is 0 (still connected to the AVM).
        The scoring output is computed without gradient (it is only read detached), so the AVM keeps
        activations for backward only of the pairs in the loss.
        """
        hv, ha = hv.detach(), ha.detach()
        with torch.no_grad():
            scores = self(hv, ha)
        b = hv.shape[0]
        half = b // 2
        if half < 2:
            return self.classifier.weight.sum() * 0.0, scores
        pos = self(hv[:half], ha[:half])
        neg = self(hv[half:].roll(1, dims=0), ha[half:])  # (B − half) mismatched pairs
        logits = torch.cat([self.match_logit(pos), self.match_logit(neg)])  # (B,)
        labels = torch.cat([torch.ones(half), torch.zeros(b - half)]).to(logits)
        return F.binary_cross_entropy_with_logits(logits, labels), scores
