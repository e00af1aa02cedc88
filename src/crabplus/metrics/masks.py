"""Mask metrics: J&F (S4, MS3, synthetic), Ref-AVS (seen/unseen J&F, null S), AVSS per-class mIoU/F.

Protocol (AVSBench, as in Crab's ``utils/avss_utils.py``). A predicted mask is a bool
tensor or a probability map in [0, 1] (resized to the target's size by nearest neighbour if needed):

* J (``j``): per sample IoU of ``pred > 0.5`` (bool: as is) with the ground truth; if the ground truth is
  empty, J is the share of pixels where both are background (the empty-GT rule); mean over samples.
* F (``f``): per sample with non-empty ground truth, precision/recall of ``pred >= t`` for the 255
  thresholds ``t = linspace(0, 1 - 1e-10, 255)``, ``F_t = (1 + β²)·P·R / (β²·P + R)`` with β² = 0.3
  (NaN → 0); the curves are averaged over samples and F is the max over t of that dataset-mean curve
  (AVSBench's protocol; Crab's scripts take the max per frame, which is slightly optimistic).
* Ref-AVS: J and F separately on the ``seen`` and ``unseen`` subsets (and pooled as ``j``/``f``); on the
  ``null`` subset (no object is referred to) ``s_null`` = mean of sqrt(foreground share of ``pred > 0.5``),
  lower is better.
* AVSS (semantic): the predicted map carries the predicted label on the predicted mask, the target map the
  target label on its mask. Per sample and per class c in {target label, predicted label}: IoU and F
  (β² = 0.3, hard masks) of the two class-c masks, skipping a class absent from both; per class the mean
  over the samples where it occurs; ``miou``/``f`` are the means over classes.

Unparseable predictions (or ones without a mask) score J = 0 and an all-zero F curve, S = 1 on null,
and predict no class for AVSS.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torchmetrics import Metric

from crabplus.answer import is_unparseable
from crabplus.metrics._strings import add_string_state, append_strings, cat_state, label_key, read_strings

__all__ = ["BETA2", "F_THRESHOLDS", "mask_j", "f_curve", "MaskJF", "RefAVSScores", "SemanticMaskScores"]

BETA2 = 0.3
F_THRESHOLDS = torch.linspace(0, 1 - 1e-10, 255, dtype=torch.float64)


def as_probability(mask: torch.Tensor | None, shape: tuple[int, int]) -> torch.Tensor | None:
    """Prediction mask as a float64 (H, W) map in [0, 1], resized to ``shape``; None stays None."""
    if mask is None:
        return None
    m = torch.as_tensor(mask).detach().to("cpu", torch.float64).squeeze()
    if m.ndim != 2:
        return None
    if tuple(m.shape) != tuple(shape):
        m = F.interpolate(m[None, None], size=tuple(shape), mode="nearest")[0, 0]
    return m


def mask_j(prob: torch.Tensor | None, gt: torch.Tensor) -> float:
    """Per-sample J with the empty-ground-truth rule; 0 for a missing prediction."""
    if prob is None:
        return 0.0
    pred = prob > 0.5
    gt = gt.bool()
    if not gt.any():
        return float((~pred & ~gt).sum()) / gt.numel()
    return float((pred & gt).sum()) / float((pred | gt).sum())


def f_score(precision: torch.Tensor, recall: torch.Tensor) -> torch.Tensor:
    """F_β with β² = 0.3; NaN (0/0) → 0."""
    f = (1 + BETA2) * precision * recall / (BETA2 * precision + recall)
    return torch.nan_to_num(f, nan=0.0)


def f_curve(prob: torch.Tensor | None, gt: torch.Tensor) -> torch.Tensor:
    """The 255-threshold F curve of one sample (zeros for a missing prediction)."""
    if prob is None:
        return torch.zeros(len(F_THRESHOLDS), dtype=torch.float64)
    gt = gt.bool().flatten()
    above = prob.flatten()[None, :] >= F_THRESHOLDS[:, None]  # (255, H·W)
    tp = (above & gt).sum(1).to(torch.float64)
    precision = tp / (above.sum(1) + 1e-20)
    recall = tp / (gt.sum() + 1e-20)
    return f_score(precision, recall)


def _target_mask(target: dict) -> torch.Tensor:
    """The target mask as a CPU (H, W) bool tensor (mask metrics compute on the CPU)."""
    return torch.as_tensor(target["mask"]).detach().to("cpu").bool().squeeze()


def _prob(pred: dict, gt: torch.Tensor) -> torch.Tensor | None:
    if is_unparseable(pred):
        return None
    return as_probability(pred.get("mask"), tuple(gt.shape[-2:]))


class _JFAccumulator:
    """Adds J/F sum states with a suffix to a metric and reads them back."""

    def __init__(self, metric: Metric, suffix: str) -> None:
        f64 = torch.float64
        self.metric, self.s = metric, suffix
        for name in ("j_sum", "j_count", "f_count"):
            metric.add_state(name + suffix, default=torch.tensor(0.0, dtype=f64), dist_reduce_fx="sum")
        metric.add_state(
            "f_sum" + suffix, default=torch.zeros(len(F_THRESHOLDS), dtype=f64), dist_reduce_fx="sum"
        )

    def _add(self, name: str, value: float | torch.Tensor) -> None:
        state = getattr(self.metric, name + self.s)
        setattr(
            self.metric, name + self.s, state + torch.as_tensor(value, dtype=state.dtype).to(state.device)
        )

    def add(self, prob: torch.Tensor | None, gt: torch.Tensor) -> None:
        self._add("j_sum", mask_j(prob, gt))
        self._add("j_count", 1.0)
        if gt.bool().any():
            self._add("f_sum", f_curve(prob, gt))
            self._add("f_count", 1.0)

    def read(self) -> tuple[float, float]:
        get = lambda name: getattr(self.metric, name + self.s)  # noqa: E731
        j = float(get("j_sum")) / float(get("j_count")) if float(get("j_count")) else float("nan")
        fc = float(get("f_count"))
        f = float((get("f_sum") / fc).max()) if fc else float("nan")
        return j, f


class MaskJF(Metric):
    """J (mean IoU, empty-GT rule) and F (β² = 0.3, max of the dataset-mean curve) of binary masks."""

    full_state_update = False
    higher_is_better = True

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._acc = _JFAccumulator(self, "")

    def update(self, predictions: list[dict], targets: list[dict]) -> None:
        """Targets ``{"mask": (H, W) bool}``; predictions ``{"mask": bool or probability map}``."""
        for pred, target in zip(predictions, targets):
            gt = _target_mask(target)
            self._acc.add(_prob(pred, gt), gt)

    def compute(self) -> dict[str, float]:
        """``{"j", "f"}``."""
        j, f = self._acc.read()
        return {"j": j, "f": f}


class RefAVSScores(Metric):
    """Ref-AVS: J&F on ``seen``/``unseen`` (and pooled), S on ``null`` (target key ``subset``)."""

    full_state_update = False
    higher_is_better = None  # mixed: s_null is lower-is-better

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._acc = {name: _JFAccumulator(self, "_" + name) for name in ("seen", "unseen", "all")}
        self.add_state("s_sum", default=torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("s_count", default=torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")

    def update(self, predictions: list[dict], targets: list[dict]) -> None:
        """Targets ``{"mask", "subset": "seen"|"unseen"|"null"}`` (default ``seen``)."""
        for pred, target in zip(predictions, targets):
            gt = _target_mask(target)
            prob = _prob(pred, gt)
            subset = target.get("subset", "seen")
            if subset == "null":
                share = 1.0 if prob is None else float((prob > 0.5).sum()) / prob.numel()
                self.s_sum += share**0.5
                self.s_count += 1
                continue
            if subset not in ("seen", "unseen"):
                raise ValueError(f"Ref-AVS subset must be seen/unseen/null, got {subset!r}")
            self._acc[subset].add(prob, gt)
            self._acc["all"].add(prob, gt)

    def compute(self) -> dict[str, float]:
        """``j``, ``f`` (pooled), ``j_seen``, ``f_seen``, ``j_unseen``, ``f_unseen`` and ``s_null``."""
        out: dict[str, float] = {}
        out["j"], out["f"] = self._acc["all"].read()
        for name in ("seen", "unseen"):
            out[f"j_{name}"], out[f"f_{name}"] = self._acc[name].read()
        out["s_null"] = float(self.s_sum) / float(self.s_count) if float(self.s_count) else float("nan")
        return out


def _class_scores(p: torch.Tensor, g: torch.Tensor) -> tuple[float, float] | None:
    """IoU and hard-mask F of one class's predicted and target masks; None if the class is absent."""
    inter, union = float((p & g).sum()), float((p | g).sum())
    if union == 0:
        return None
    precision = torch.tensor(inter / float(p.sum()) if p.any() else 0.0, dtype=torch.float64)
    recall = torch.tensor(inter / float(g.sum()) if g.any() else 0.0, dtype=torch.float64)
    return inter / union, float(f_score(precision, recall))


class SemanticMaskScores(Metric):
    """AVSS per-class mIoU and F over label-carrying masks (module docstring)."""

    full_state_update = False
    higher_is_better = True

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        add_string_state(self, "cls")
        self.add_state("iou", default=[], dist_reduce_fx="cat")
        self.add_state("fs", default=[], dist_reduce_fx="cat")

    def update(self, predictions: list[dict], targets: list[dict]) -> None:
        """Targets ``{"label", "mask"}``; predictions ``{"label", "mask"}``."""
        classes, ious, fs = [], [], []
        for pred, target in zip(predictions, targets):
            gt = _target_mask(target)
            prob = _prob(pred, gt)
            has_pred = prob is not None and isinstance(pred.get("label"), str)
            pm = prob > 0.5 if has_pred else torch.zeros_like(gt)
            p_label = label_key(pred["label"]) if has_pred else None
            for c in {label_key(target["label"]), p_label} - {None}:
                scores = _class_scores(
                    pm if p_label == c else torch.zeros_like(gt),
                    gt if label_key(target["label"]) == c else torch.zeros_like(gt),
                )
                if scores is not None:
                    classes.append(c)
                    ious.append(scores[0])
                    fs.append(scores[1])
        append_strings(self, "cls", classes)
        self.iou.append(torch.tensor(ious, dtype=torch.float64, device=self.device))
        self.fs.append(torch.tensor(fs, dtype=torch.float64, device=self.device))

    def compute(self) -> dict[str, float]:
        """``{"miou", "f"}``: class means of per-class sample means."""
        ious = cat_state(self.iou, torch.float64).tolist()
        fs = cat_state(self.fs, torch.float64).tolist()
        per: dict[str, list[tuple[float, float]]] = {}
        for c, i, f in zip(read_strings(self, "cls"), ious, fs):
            per.setdefault(c, []).append((i, f))
        if not per:
            return {"miou": float("nan"), "f": float("nan")}
        miou = sum(sum(i for i, _ in v) / len(v) for v in per.values()) / len(per)
        fmean = sum(sum(f for _, f in v) / len(v) for v in per.values()) / len(per)
        return {"miou": miou, "f": fmean}
