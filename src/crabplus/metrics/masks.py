"""Mask metrics: J&F (S4, MS3, synthetic), Ref-AVS (seen/unseen J&F, null S), AVSS semantic mIoU/F.

Protocols (AVSBench, Zhou et al.; read from its ``avs_scripts``). A predicted binary mask is a bool tensor
or a probability map in [0, 1] (resized to the target's size by nearest neighbour if needed):

* J (``j``): per frame the IoU of ``pred > 0.5`` (bool: as is) with the ground truth; if the ground truth
  is empty, J is the share of pixels where both are background (the empty-GT rule). Mean over the frames
  of a video, then over videos.
* F (``f``, the official default): per frame with non-empty ground truth, precision/recall of
  ``pred >= t`` for the 255 thresholds ``t = linspace(0, 1 - 1e-10, 255)``,
  ``F_t = (1 + β²)·P·R / (β²·P + R)`` with β² = 0.3 (NaN → 0). Per video (AVSBench's test batch holds one
  video's frames) the curves of its frames are averaged and F is the max over t of that curve; a video
  none of whose frames has an object scores 0, as the reference does. ``f`` is the mean over videos.
  Frames are grouped by the target's ``video`` key; a target without one is a video of its own (then
  ``f`` is the per-frame protocol of Crab's scripts).
* ``f_pooled`` (variant): the max over t of the curve averaged over every object frame of the dataset.
* Ref-AVS: J and F separately on the ``seen`` and ``unseen`` subsets (and all of them as ``j``/``f``),
  F there being the pooled curve's max; on the ``null`` subset (no object is referred to) ``s_null`` =
  mean of sqrt(foreground share of ``pred > 0.5``), lower is better.
* AVSS (semantic, ``SemanticMaskScores``): per-pixel class maps over the dataset's classes, background
  (index 0) included. Per frame and class c: IoU = |P∩G| / (|P∪G| + eps), F (β² = 0.3) of the hard class-c
  masks (NaN → 0), and a count when c is in the union. Per class: summed IoU (F) / count, NaN → 0 for a
  class that never occurs; ``miou``/``f`` are the means over *all* classes (AVSBench's ``test.py``: a class
  absent from the split counts as 0). Variant ``miou_present``/``f_present``: the means over the classes
  that occur (what its running log prints). One difference: AVSBench's loader pads 5-frame (v1s, v1m)
  videos to 10 with black frames and all-background labels, which its loop scores too; here only the
  annotated frames are scored.

Unparseable predictions (or ones without a mask) score J = 0 and an all-zero F curve, S = 1 on null,
and for AVSS a map that matches no class anywhere.
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
    """Prediction mask as a float64 (H, W) map in [0, 1], resized to ``shape``; None stays None.

    A (K, H, W) stack (one map per generated ``<mask>``) gives its first map."""
    if mask is None:
        return None
    m = torch.as_tensor(mask).detach().to("cpu", torch.float64).squeeze()
    if m.ndim == 3:  # one map per generated <mask>: a binary answer's mask is the first
        m = m[0]
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
        if not float(get("j_count")):
            return float("nan"), float("nan")  # nothing measured
        j = float(get("j_sum")) / float(get("j_count"))
        fc = float(get("f_count"))
        f = float((get("f_sum") / fc).max()) if fc else 0.0  # frames, none with an object: 0 (reference)
        return j, f


def video_f(curves: torch.Tensor, has_object: torch.Tensor) -> float:
    """AVSBench F of one video: max over t of its object frames' mean curve; 0 without object frames."""
    if not bool(has_object.any()):
        return 0.0
    return float(curves[has_object].mean(0).max())


class MaskJF(Metric):
    """J and F of binary masks, per video as AVSBench (module docstring); ``f_pooled`` as a variant."""

    full_state_update = False
    higher_is_better = True

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        add_string_state(self, "video")
        self.add_state("j", default=[], dist_reduce_fx="cat")
        self.add_state("curves", default=[], dist_reduce_fx="cat")  # flattened (N·255,)
        self.add_state("has_object", default=[], dist_reduce_fx="cat")

    def update(self, predictions: list[dict], targets: list[dict]) -> None:
        """Targets ``{"mask": (H, W) bool, "video"?: str}``; predictions ``{"mask": bool or probability map}``."""
        videos, js, curves, objects = [], [], [], []
        for pred, target in zip(predictions, targets):
            gt = _target_mask(target)
            prob = _prob(pred, gt)
            video = target.get("video")
            videos.append(str(video) if video not in (None, "") else "")  # "": a video of its own
            js.append(mask_j(prob, gt))
            curves.append(f_curve(prob, gt))
            objects.append(bool(gt.any()))
        append_strings(self, "video", videos)
        f64 = torch.float64
        self.j.append(torch.tensor(js, dtype=f64, device=self.device))
        flat = torch.cat(curves) if curves else torch.zeros(0, dtype=f64)
        self.curves.append(flat.to(self.device))
        self.has_object.append(torch.tensor(objects, dtype=torch.bool, device=self.device))

    def compute(self) -> dict[str, float]:
        """``{"j", "f", "f_pooled"}``."""
        videos = read_strings(self, "video")
        if not videos:
            return {"j": float("nan"), "f": float("nan"), "f_pooled": float("nan")}
        j = cat_state(self.j, torch.float64)
        curves = cat_state(self.curves, torch.float64).reshape(len(videos), len(F_THRESHOLDS))
        has_object = cat_state(self.has_object, torch.bool)
        groups: dict[str | int, list[int]] = {}
        for i, video in enumerate(videos):
            groups.setdefault(video or i, []).append(i)
        per_j = [float(j[idx].mean()) for idx in groups.values()]
        per_f = [video_f(curves[idx], has_object[idx]) for idx in groups.values()]
        return {
            "j": sum(per_j) / len(per_j),
            "f": sum(per_f) / len(per_f),
            "f_pooled": video_f(curves, has_object),
        }


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


class SemanticMaskScores(Metric):
    """AVSBench-semantic mIoU and F over all classes, background counted (module docstring).

    ``classes``: the class names by index, index 0 the background (AVSBench: 71 classes).
    """

    full_state_update = False
    higher_is_better = True

    def __init__(self, classes: tuple[str, ...], **kwargs) -> None:
        super().__init__(**kwargs)
        if len(classes) < 2:
            raise ValueError(f"SemanticMaskScores needs background plus at least one class, got {classes!r}")
        self.classes = tuple(classes)
        self._index = {label_key(c): i for i, c in enumerate(self.classes)}
        n, f64 = len(self.classes), torch.float64
        for name in ("iou_sum", "f_sum", "count"):
            self.add_state(name, default=torch.zeros(n, dtype=f64), dist_reduce_fx="sum")

    def class_map(self, pred: dict, shape: tuple[int, int]) -> torch.Tensor:
        """The predicted (H, W) class-index map; -1 (no class) everywhere for an unusable prediction.

        ``pred["mask"]`` is either an integer class map, or a probability map per ``<mask>`` (``(K, H, W)``,
        or ``(H, W)`` for one) whose classes are ``pred["classes"]`` (names): a pixel takes the class of
        its most probable mask if that probability exceeds 0.5, else background. Unknown names never win.
        """
        none = torch.full(shape, -1, dtype=torch.long)
        if is_unparseable(pred) or pred.get("mask") is None:
            return none
        mask = torch.as_tensor(pred["mask"]).detach().to("cpu")
        if not mask.is_floating_point() and mask.dtype != torch.bool:
            mask = mask.long().reshape(mask.shape[-2:]) if mask.ndim >= 2 else None
            if mask is None:
                return none
            if tuple(mask.shape) != tuple(shape):
                mask = F.interpolate(mask[None, None].double(), size=shape, mode="nearest")[0, 0].long()
            return mask
        names = list(pred.get("classes") or [])
        probs = mask.to(torch.float64)
        probs = probs[None] if probs.ndim == 2 else probs
        if probs.ndim != 3 or probs.shape[0] != len(names):
            return none
        if tuple(probs.shape[-2:]) != tuple(shape):
            probs = F.interpolate(probs[None], size=shape, mode="nearest")[0]
        ids = torch.tensor([self._index.get(label_key(n), -1) for n in names], dtype=torch.long)
        probs = torch.where((ids >= 0)[:, None, None], probs, torch.zeros_like(probs))
        best, which = probs.max(0)
        return torch.where(best > 0.5, ids[which], torch.zeros_like(which))

    def update(self, predictions: list[dict], targets: list[dict]) -> None:
        """Targets ``{"mask": (H, W) class-index map}``; predictions: see :meth:`class_map`."""
        n = len(self.classes)
        iou_sum, f_sum, count = (torch.zeros(n, dtype=torch.float64) for _ in range(3))
        for pred, target in zip(predictions, targets):
            gt = torch.as_tensor(target["mask"]).detach().to("cpu").long().squeeze()
            p = self.class_map(pred, tuple(gt.shape[-2:])).flatten()
            g = gt.flatten()
            area = lambda x: torch.bincount(x[(x >= 0) & (x < n)], minlength=n).to(torch.float64)  # noqa: E731
            inter, area_p, area_g = area(torch.where(p == g, p, -1)), area(p), area(g)
            union = area_p + area_g - inter
            iou_sum += inter / (union + 2.220446049250313e-16)
            count += (union > 0).to(torch.float64)
            f_sum += f_score(inter / area_p, inter / area_g)  # 0/0 -> NaN -> 0, as the reference
        self.iou_sum += iou_sum.to(self.iou_sum.device)
        self.f_sum += f_sum.to(self.f_sum.device)
        self.count += count.to(self.count.device)

    def compute(self) -> dict[str, float]:
        """``miou``/``f`` over all classes (official), ``miou_present``/``f_present`` over occurring ones."""
        count = self.count.to("cpu")
        present = count > 0
        iou = torch.nan_to_num(self.iou_sum.to("cpu") / count, nan=0.0)
        fs = torch.nan_to_num(self.f_sum.to("cpu") / count, nan=0.0)
        some = bool(present.any())
        return {
            "miou": float(iou.mean()),
            "f": float(fs.mean()),
            "miou_present": float(iou[present].mean()) if some else float("nan"),
            "f_present": float(fs[present].mean()) if some else float("nan"),
        }
