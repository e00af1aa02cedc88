"""Linear probes: how much a modality's encoder has learnt, independent of how the head was trained.

The fused-only baseline has no trained unimodal heads, so unimodal quality is compared across methods
with a probe on each frozen encoder's features (a multinomial logistic regression is used here, the usual "linear probe"; a
nearest-class-mean probe would also do).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from crabplus.studies.balance._model import AVClassifier

__all__ = ["encoder_features", "linear_probe_accuracy"]


@torch.no_grad()
def encoder_features(
    model: AVClassifier, batches: Iterable[dict[str, Any]]
) -> tuple[dict[str, Tensor], Tensor]:
    """Features of every encoder (eval mode) and the labels over a loader: ({m: (N, d)}, (N,))."""
    was_training = model.training
    model.eval()
    feats: dict[str, list[Tensor]] = {"audio": [], "video": []}
    labels = []
    for batch in batches:
        out = model(batch["audio"], batch["video"])
        for m in feats:
            feats[m].append(out.features[m])
        labels.append(batch["label"])
    model.train(was_training)
    return {m: torch.cat(v) for m, v in feats.items()}, torch.cat(labels)


def linear_probe_accuracy(
    train_x: Tensor,
    train_y: Tensor,
    test_x: Tensor,
    test_y: Tensor,
    num_classes: int,
    steps: int = 300,
    lr: float = 0.05,
    weight_decay: float = 1e-3,
) -> float:
    """Fit softmax regression on standardised (N, d) features (full batch, Adam), return test accuracy."""
    mean, std = train_x.mean(0), train_x.std(0).clamp_min(1e-6)  # (d,)
    xtr, xte = (train_x - mean) / std, (test_x - mean) / std
    gen = torch.Generator().manual_seed(0)
    weight = (torch.randn(xtr.shape[1], num_classes, generator=gen) * 0.01).requires_grad_()
    bias = torch.zeros(num_classes, requires_grad=True)
    opt = torch.optim.Adam([weight, bias], lr=lr, weight_decay=weight_decay)
    with torch.enable_grad():
        for _ in range(steps):
            opt.zero_grad()
            F.cross_entropy(xtr @ weight + bias, train_y).backward()
            opt.step()
    with torch.no_grad():
        return float(((xte @ weight + bias).argmax(-1) == test_y).float().mean())
