"""Temporal metrics: AVE segment accuracy and UnAV-100 event detection F1 at tIoU thresholds.

Seconds → 1-s segments (shared with AVVP). A clip of ``duration`` seconds has ``ceil(duration)`` segments;
segment ``t`` covers ``[t, t+1)`` and belongs to an event ``[s, e]`` when its midpoint lies inside:
``s <= t + 0.5 < e``. Integer-second annotations ``[s, e]`` therefore mark segments ``s … e-1`` (AVE's
"0,8" covers 8 segments). The lab's evaluator marks ``s … e`` inclusive instead;
we keep the half-open reading, which matches AVVP's.

AVE. ``segment_accuracy`` = correct segments / all segments, a segment's label being the event label
inside the event's spans and ``background`` outside. An unparseable prediction gets all its segments wrong
(the lab's evaluator silently skipped them).

UnAV-100. Text answers carry no confidence, so the ranking that mAP needs does not exist; we report the
detection F1 at tIoU θ ∈ {0.5, 0.6, 0.7, 0.8, 0.9}: predicted and ground-truth events of the same label are
matched one-to-one, greedily by decreasing tIoU, a pair counting when tIoU ≥ θ; counts are summed over the
dataset, ``F1@θ = 2·TP / (#pred + #gt)``; ``avg_f1`` is their mean; ``mean_tiou`` is the mean over
ground-truth events of the best tIoU with a predicted event of the same label (0 when none).
"""

from __future__ import annotations

import math

import torch
from torchmetrics import Metric

from crabplus.answer import is_unparseable
from crabplus.metrics._strings import label_key

__all__ = [
    "num_segments",
    "segment_mask",
    "tiou",
    "SegmentAccuracy",
    "TemporalDetectionF1",
    "TIOU_THRESHOLDS",
]

TIOU_THRESHOLDS = (0.5, 0.6, 0.7, 0.8, 0.9)
BACKGROUND = "\x00background"


def num_segments(duration: float) -> int:
    """Number of 1-s segments of a clip (at least 1)."""
    return max(1, math.ceil(float(duration) - 1e-6))


def segment_mask(spans: list, n: int) -> list[bool]:
    """Which of ``n`` 1-s segments have their midpoint inside one of ``spans`` (``[[s, e], ...]``)."""
    return [any(float(s) <= t + 0.5 < float(e) for s, e in spans) for t in range(n)]


def tiou(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Temporal IoU of two intervals; two identical zero-length intervals have tIoU 1."""
    inter = max(0.0, min(a[1], b[1]) - max(a[0], b[0]))
    union = max(a[1], b[1]) - min(a[0], b[0])
    if union <= 0:
        return 1.0 if tuple(a) == tuple(b) else 0.0
    return inter / union


def _segment_labels(label: str, spans: list, n: int) -> list[str]:
    return [label_key(label) if on else BACKGROUND for on in segment_mask(spans, n)]


class SegmentAccuracy(Metric):
    """AVE segment accuracy over 1-s segments (module docstring)."""

    full_state_update = False
    higher_is_better = True

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.add_state("correct", default=torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("total", default=torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")

    def update(self, predictions: list[dict], targets: list[dict]) -> None:
        """Targets ``{"label", "segments", "duration"}``; predictions ``{"label", "segments"}``."""
        for pred, target in zip(predictions, targets):
            n = num_segments(target["duration"])
            gold = _segment_labels(target["label"], target["segments"], n)
            self.total += n
            if is_unparseable(pred) or "label" not in pred:
                continue
            guess = _segment_labels(pred["label"], pred.get("segments", []), n)
            self.correct += sum(g == p for g, p in zip(gold, guess))

    def compute(self) -> dict[str, float]:
        """``{"segment_accuracy"}``."""
        total = float(self.total)
        return {"segment_accuracy": float(self.correct) / total if total else float("nan")}


def _match(
    preds: list[tuple[str, float, float]], gts: list[tuple[str, float, float]], threshold: float
) -> int:
    """One-to-one greedy matching by decreasing tIoU among same-label pairs with tIoU ≥ threshold."""
    pairs = sorted(
        ((tiou(p[1:], g[1:]), i, j) for i, p in enumerate(preds) for j, g in enumerate(gts) if p[0] == g[0]),
        reverse=True,
    )
    used_p: set[int] = set()
    used_g: set[int] = set()
    for iou, i, j in pairs:
        if iou >= threshold and i not in used_p and j not in used_g:
            used_p.add(i)
            used_g.add(j)
    return len(used_p)


def _events(raw: list) -> list[tuple[str, float, float]]:
    return [(label_key(label), float(s), float(e)) for label, s, e in raw]


class TemporalDetectionF1(Metric):
    """UnAV-100 event detection F1 at several tIoU thresholds and mean best tIoU (module docstring)."""

    full_state_update = False
    higher_is_better = True

    def __init__(self, thresholds: tuple[float, ...] = TIOU_THRESHOLDS, **kwargs) -> None:
        super().__init__(**kwargs)
        self.thresholds = tuple(thresholds)
        f64 = torch.float64
        self.add_state("tp", default=torch.zeros(len(self.thresholds), dtype=f64), dist_reduce_fx="sum")
        self.add_state("n_pred", default=torch.tensor(0.0, dtype=f64), dist_reduce_fx="sum")
        self.add_state("n_gt", default=torch.tensor(0.0, dtype=f64), dist_reduce_fx="sum")
        self.add_state("tiou_sum", default=torch.tensor(0.0, dtype=f64), dist_reduce_fx="sum")

    def update(self, predictions: list[dict], targets: list[dict]) -> None:
        """Targets and predictions ``{"events": [[label, s, e], ...]}``."""
        for pred, target in zip(predictions, targets):
            gts = _events(target["events"])
            preds = [] if is_unparseable(pred) else _events(pred.get("events", []))
            self.n_gt += len(gts)
            self.n_pred += len(preds)
            self.tp += torch.tensor(
                [_match(preds, gts, th) for th in self.thresholds], dtype=torch.float64, device=self.device
            )
            for g in gts:
                self.tiou_sum += max((tiou(p[1:], g[1:]) for p in preds if p[0] == g[0]), default=0.0)

    def compute(self) -> dict[str, float]:
        """``f1_iou50 … f1_iou90``, ``avg_f1``, ``mean_tiou``."""
        denom = float(self.n_pred + self.n_gt)
        f1 = [2 * float(tp) / denom if denom else float("nan") for tp in self.tp]
        out = {f"f1_iou{round(th * 100)}": v for th, v in zip(self.thresholds, f1)}
        out["avg_f1"] = sum(f1) / len(f1)
        out["mean_tiou"] = float(self.tiou_sum) / float(self.n_gt) if float(self.n_gt) else float("nan")
        return out
