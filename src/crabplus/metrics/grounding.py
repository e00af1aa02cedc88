"""Box grounding (ARIG): mean IoU, cIoU (share of samples with IoU ≥ 0.5), AUC, label accuracy.

Protocol (our choice; Crab ships no ARIG metric). Boxes are ``[x1, y1, x2, y2]``
normalised to [0, 1]. Per sample the IoU of predicted and ground-truth box (0 for an unparseable prediction
or one without a box). ``ciou`` is the success rate at IoU ≥ 0.5, as in sound-source localisation
(where "cIoU" names the consensus-IoU success rate, not Complete-IoU). ``auc`` is the area under the
success-rate curve ``s(t) = share of samples with IoU ≥ t`` over the 21 thresholds t = 0, 0.05, …, 1
(trapezoid rule; 1.0 only when every box is exact). ``label_accuracy``: canonical label exact match.
"""

from __future__ import annotations

import torch
from torchmetrics import Metric

from crabplus.answer import is_unparseable
from crabplus.metrics._strings import label_key

__all__ = ["box_iou", "BoxGroundingScores", "AUC_THRESHOLDS"]

AUC_THRESHOLDS = tuple(i / 20 for i in range(21))


def box_iou(a: list[float], b: list[float]) -> float:
    """IoU of two ``[x1, y1, x2, y2]`` boxes; 0 when the union has no area."""
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


class BoxGroundingScores(Metric):
    """Grounding scores of ``{"label", "box"}`` predictions against targets (module docstring)."""

    full_state_update = False
    higher_is_better = True

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        f64 = torch.float64
        self.add_state("iou_sum", default=torch.tensor(0.0, dtype=f64), dist_reduce_fx="sum")
        self.add_state("label_hits", default=torch.tensor(0.0, dtype=f64), dist_reduce_fx="sum")
        self.add_state("count", default=torch.tensor(0.0, dtype=f64), dist_reduce_fx="sum")
        self.add_state("success", default=torch.zeros(len(AUC_THRESHOLDS), dtype=f64), dist_reduce_fx="sum")

    def update(self, predictions: list[dict], targets: list[dict]) -> None:
        """Record one batch of box predictions."""
        thresholds = torch.tensor(AUC_THRESHOLDS, dtype=torch.float64, device=self.device)
        for pred, target in zip(predictions, targets):
            ok = not is_unparseable(pred)
            iou = box_iou(pred["box"], target["box"]) if ok and pred.get("box") is not None else 0.0
            self.iou_sum += iou
            self.count += 1
            self.success += (iou >= thresholds - 1e-12).to(torch.float64)
            if ok and isinstance(pred.get("label"), str):
                self.label_hits += float(label_key(pred["label"]) == label_key(target["label"]))

    def compute(self) -> dict[str, float]:
        """``{"iou", "ciou", "auc", "label_accuracy"}``."""
        n = float(self.count)
        if not n:
            return {k: float("nan") for k in ("iou", "ciou", "auc", "label_accuracy")}
        rate = (self.success / n).tolist()
        step = AUC_THRESHOLDS[1] - AUC_THRESHOLDS[0]
        auc = sum((a + b) / 2 * step for a, b in zip(rate[:-1], rate[1:]))
        return {
            "iou": float(self.iou_sum) / n,
            "ciou": rate[AUC_THRESHOLDS.index(0.5)],
            "auc": auc,
            "label_accuracy": float(self.label_hits) / n,
        }
