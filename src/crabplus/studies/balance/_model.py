"""A tiny audio-visual classifier for balancing studies: two CNN encoders, unimodal heads, four fusions.

Notation: B batch, T frames, S frame side, n_mels mel bins, F spectrogram frames, d feature width,
C classes. Plain ``nn.Module`` (works without Lightning).

Fusions (MLB's variants; the names here):

- ``concat``: z = W_a h_a + W_v h_v + b, the linear layer on [h_a; h_v] stored as one modality-owned
  slice per modality plus a shared bias (MLB's ``linear`` fusion: k_i scales W_i too).
- ``sum``: z = W (h_a + h_v) + b, one shared layer.
- ``late``: z = mean of the unimodal heads' logits (decision-level; no fusion parameters).
- ``film``: z = W (gamma(h_a) * h_v + beta(h_a)) + b, audio conditions video (shared block).

`modality_parameters()` lists each modality's encoder, unimodal head and (concat) fusion slice; shared
fusion parameters are never scaled.

For OGM-GE, the decomposable fusions (concat, sum, late) also give per-modality estimates of the fused
logits: z_i = (fusion applied to h_i alone) + b / 2.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from crabplus.balance import ScaleHandle, grad_scale

__all__ = ["AVClassifier", "AVOutputs", "AudioEncoder", "FUSIONS", "VideoEncoder"]

FUSIONS = ("concat", "sum", "late", "film")


def _conv_block(c_in: int, c_out: int) -> nn.Sequential:
    """conv3x3 -> BatchNorm (batch statistics in eval too) -> ReLU -> 2x2 max-pool.

    No running statistics: with them, eval accuracy swung by 30+ points between epochs on these tiny,
    noisy runs; GroupNorm instead left the video encoder stuck at chance within the study's budget.
    """
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, padding=1, bias=False),
        nn.BatchNorm2d(c_out, track_running_stats=False),
        nn.ReLU(),
        nn.MaxPool2d(2),
    )


class AudioEncoder(nn.Module):
    """Log-mel CNN: (B, n_mels, F) -> (B, d). Two conv blocks, global average pooling."""

    def __init__(self, dim: int = 32, channels: int = 16) -> None:
        super().__init__()
        self.net = nn.Sequential(
            _conv_block(1, channels), _conv_block(channels, dim), nn.AdaptiveAvgPool2d(1)
        )

    def forward(self, mel: Tensor) -> Tensor:
        return self.net(mel[:, None]).flatten(1)  # (B, 1, n_mels, F) -> (B, d)


class VideoEncoder(nn.Module):
    """Frame CNN, mean over time: (B, T, 3, S, S) -> (B, d)."""

    def __init__(self, dim: int = 32, channels: int = 16) -> None:
        super().__init__()
        self.net = nn.Sequential(
            _conv_block(3, channels), _conv_block(channels, dim), nn.AdaptiveAvgPool2d(1)
        )

    def forward(self, video: Tensor) -> Tensor:
        b, t = video.shape[:2]
        feats = self.net(video.flatten(0, 1)).flatten(1)  # (B*T, d)
        return feats.view(b, t, -1).mean(1)  # (B, d)


@dataclass
class AVOutputs:
    """Logits of one forward. ``fused``/``audio``/``video``: (B, C); ``slices``: OGM estimates or None."""

    fused: Tensor
    unimodal: dict[str, Tensor]
    slices: dict[str, Tensor] | None
    features: dict[str, Tensor]


class AVClassifier(nn.Module):
    """Two encoders, a unimodal head each, and a fusion head.

    Args:
        num_classes: C.
        dim: encoder feature width d.
        channels: width of the first conv block.
        fusion: one of `FUSIONS`.
    """

    def __init__(self, num_classes: int, dim: int = 32, channels: int = 16, fusion: str = "concat") -> None:
        super().__init__()
        if fusion not in FUSIONS:
            raise ValueError(f"model.fusion={fusion!r} is not one of {FUSIONS}")
        self.fusion = fusion
        self.encoders = nn.ModuleDict(
            {"audio": AudioEncoder(dim, channels), "video": VideoEncoder(dim, channels)}
        )
        self.heads = nn.ModuleDict({m: nn.Linear(dim, num_classes) for m in ("audio", "video")})
        if fusion == "concat":
            self.slices = nn.ModuleDict(
                {m: nn.Linear(dim, num_classes, bias=False) for m in ("audio", "video")}
            )
            self.bias = nn.Parameter(torch.zeros(num_classes))
        elif fusion == "sum":
            self.fuse = nn.Linear(dim, num_classes)
        elif fusion == "film":
            self.film = nn.Linear(dim, 2 * dim)
            self.fuse = nn.Linear(dim, num_classes)

    def modality_parameters(self) -> dict[str, list[nn.Parameter]]:
        """Parameters owned by each modality: encoder, unimodal head, concat fusion slice."""
        out = {}
        for m in ("audio", "video"):
            params = list(self.encoders[m].parameters()) + list(self.heads[m].parameters())
            if self.fusion == "concat":
                params += list(self.slices[m].parameters())
            out[m] = params
        return out

    def forward(
        self, audio: Tensor, video: Tensor, handles: dict[str, ScaleHandle] | None = None
    ) -> AVOutputs:
        """audio (B, n_mels, F), video (B, T, 3, S, S) -> logits (B, C).

        ``handles`` (route "graph"): `grad_scale` on each modality's unimodal logits and on its input to
        the fusion (its concat slice, or its features for a shared fusion block), so every gradient into
        modality i's parameters, and only those, is multiplied by ``handles[i].value``.
        """
        h = {"audio": self.encoders["audio"](audio), "video": self.encoders["video"](video)}  # (B, d) each
        uni = {m: self.heads[m](x) for m, x in h.items()}  # (B, C) each
        h_fuse = h
        if handles is not None:
            uni = {m: grad_scale(z, handles[m]) for m, z in uni.items()}
            if self.fusion in ("sum", "film"):  # shared fusion block: scale the modality's input to it
                h_fuse = {m: grad_scale(x, handles[m]) for m, x in h.items()}
        fused, slices = self._fuse(h_fuse, uni, handles)
        return AVOutputs(fused=fused, unimodal=uni, slices=slices, features=h)

    def _fuse(self, h: dict[str, Tensor], uni: dict[str, Tensor], handles: dict[str, ScaleHandle] | None):
        if self.fusion == "concat":
            parts = {m: self.slices[m](x) for m, x in h.items()}  # (B, C) each
            if handles is not None:
                parts = {m: grad_scale(z, handles[m]) for m, z in parts.items()}
            slices = {m: z + self.bias / 2 for m, z in parts.items()}
            return parts["audio"] + parts["video"] + self.bias, slices
        if self.fusion == "sum":
            w, b = self.fuse.weight, self.fuse.bias
            slices = {m: x @ w.T + b / 2 for m, x in h.items()}
            return self.fuse(h["audio"] + h["video"]), slices
        if self.fusion == "late":
            slices = {m: z / 2 for m, z in uni.items()}
            return (uni["audio"] + uni["video"]) / 2, slices
        gamma, beta = self.film(h["audio"]).chunk(2, dim=-1)  # (B, d) each
        return self.fuse(gamma * h["video"] + beta), None
