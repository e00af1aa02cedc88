"""Segmentation (S4, MS3, AVSS, Ref-AVS, synthetic): the sounding object's label and mask.

Target ``{"label", "mask": (H, W) bool tensor}`` (Ref-AVS adds ``"subset": "seen"|"unseen"|"null"``).
Two routes from text to mask:

* ``route="mask"`` (Crab): answer ``<answer>label <mask></answer>``; the ``<mask>`` token's hidden state
  feeds the model's mask head, and the model puts the mask into the parsed prediction as ``"mask"``.
  ``parse`` gives ``{"label"}``; an answer without ``<mask>`` is unparseable (no mask can be decoded).
* ``route="box_points"`` (Crab+): answer ``<answer>label <box>…</box><point>…</point>×3</answer>`` (no box
  for an empty mask); ``parse`` gives ``{"label", "box", "points"}`` and an external promptable segmenter
  (``families.box_prompt``) turns box + points into the mask.

Metrics: ``binary`` → J&F (``MaskJF``), ``ref`` → Ref-AVS seen/unseen J&F and null S, ``semantic`` → AVSS
per-class mIoU/F. Baseline: majority label with an empty mask.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
from torchmetrics import Metric

from crabplus.answer import Box, MaskToken, Part, Point, Text
from crabplus.metrics.masks import MaskJF, RefAVSScores, SemanticMaskScores
from crabplus.tasks._base import Reject, Task, majority
from crabplus.tasks.families._parts import label, only, text_of
from crabplus.tasks.families.box_prompt import box_prompt_parts, box_prompt_view

__all__ = ["SegmentationTask"]

_METRICS = {"binary": MaskJF, "ref": RefAVSScores, "semantic": SemanticMaskScores}
_DIRECTIONS = {
    "binary": {"j": True, "f": True},
    "ref": {"j": True, "f": True, "j_seen": True, "f_seen": True, "j_unseen": True, "f_unseen": True,
            "s_null": False},
    "semantic": {"miou": True, "f": True},
}  # fmt: skip


@dataclass(frozen=True)
class SegmentationTask(Task):
    """Label plus mask, scored by the metric ``kind`` (binary / ref / semantic)."""

    family: str = "segmentation"
    modalities: tuple[str, ...] = ("image", "audio")
    kind: str = "binary"
    route: str = "mask"
    higher_is_better: ClassVar[dict[str, bool]] = {}  # per kind, see __post_init__
    primary_metric: ClassVar[str] = ""

    def __post_init__(self) -> None:
        if self.kind not in _METRICS or self.route not in ("mask", "box_points"):
            raise ValueError(f"{self.name}: kind must be one of {list(_METRICS)}, route mask|box_points")
        # per-instance values shadow the ClassVar defaults (frozen dataclass: object.__setattr__)
        object.__setattr__(self, "higher_is_better", dict(_DIRECTIONS[self.kind]))
        object.__setattr__(self, "primary_metric", "miou" if self.kind == "semantic" else "j")

    def to_parts(self, target: dict) -> list[Part]:
        if self.route == "mask":
            return [Text(label(target["label"])), MaskToken()]
        return [Text(label(target["label"])), *box_prompt_parts(target["mask"])]

    def from_parts(self, parts: list[Part]) -> dict:
        if self.route == "mask":
            only(parts, (Text, MaskToken), self.name)
            if not any(isinstance(p, MaskToken) for p in parts):
                raise Reject(f"{self.name}: no <mask> token")
            return {"label": text_of(parts, self.name)}
        only(parts, (Text, Box, Point), self.name)
        boxes = [p for p in parts if isinstance(p, Box)]
        if len(boxes) > 1:
            raise Reject(f"{self.name}: more than one <box>")
        box = [boxes[0].x1, boxes[0].y1, boxes[0].x2, boxes[0].y2] if boxes else None
        points = [[p.x, p.y] for p in parts if isinstance(p, Point)]
        return {"label": text_of(parts, self.name), "box": box, "points": points}

    def text_view(self, target: dict) -> dict:
        view = {"label": label(target["label"])}
        if self.route == "box_points":
            view.update(box_prompt_view(target["mask"]))
        return view

    def make_metric(self) -> Metric:
        return _METRICS[self.kind]()

    def trivial_prediction(self, targets: list[dict]) -> list[dict]:
        top = majority([label(t["label"]) for t in targets])
        return [
            {"label": top, "mask": torch.zeros_like(torch.as_tensor(t["mask"]), dtype=torch.bool)}
            for t in targets
        ]
