"""Segmentation (S4, MS3, AVSS, Ref-AVS, synthetic): the sounding object's label and mask.

Target ``{"label", "mask": (H, W) bool tensor}`` (Ref-AVS adds ``"subset": "seen"|"unseen"|"null"``; S4 and
MS3 targets carry ``"video"`` for the per-video F). Two routes from text to mask:

* ``route="mask"`` (Crab): answer ``<answer>label <mask></answer>``; the ``<mask>`` token's hidden state
  feeds the model's mask head, and the model puts the mask into the parsed prediction as ``"mask"``.
  ``parse`` gives ``{"label"}``; an answer without ``<mask>`` is unparseable (no mask can be decoded).
* ``route="box_points"`` (Crab+): answer ``<answer>label <box>…</box><point>…</point>×3</answer>`` (no box
  for an empty mask); ``parse`` gives ``{"label", "box", "points"}`` and an external promptable segmenter
  (``families.box_prompt``) turns box + points into the mask.

Semantic (``kind="semantic"``, AVSS): the target mask is an (H, W) map of class indices into ``classes``
(0 = background); the answer names each foreground class present, in index order, each followed by its
own mask: ``<answer><event>dog</event><mask><event>man</event><mask></answer>``. ``parse`` gives
``{"classes": [names]}``; the model adds one probability map per ``<mask>`` (``(K, H, W)``), and the
metric paints each pixel with the class of its most probable mask (background below 0.5).

Metrics: ``binary`` → J&F (``MaskJF``), ``ref`` → Ref-AVS seen/unseen J&F and null S, ``semantic`` →
AVSBench mIoU/F over all classes with background. Baseline: majority label with an empty mask (semantic:
all background).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
from torchmetrics import Metric

from crabplus.answer import Box, Event, MaskToken, Part, Point, Text
from crabplus.metrics.masks import MaskJF, RefAVSScores, SemanticMaskScores
from crabplus.tasks._base import Reject, Task, majority
from crabplus.tasks.families._parts import label, only, text_of
from crabplus.tasks.families.box_prompt import box_prompt_parts, box_prompt_view

__all__ = ["SegmentationTask"]

_METRICS = {"binary": MaskJF, "ref": RefAVSScores, "semantic": SemanticMaskScores}
_DIRECTIONS = {
    "binary": {"j": True, "f": True, "f_pooled": True},
    "ref": {"j": True, "f": True, "j_seen": True, "f_seen": True, "j_unseen": True, "f_unseen": True,
            "s_null": False},
    "semantic": {"miou": True, "f": True, "miou_present": True, "f_present": True},
}  # fmt: skip


@dataclass(frozen=True)
class SegmentationTask(Task):
    """Label plus mask, scored by the metric ``kind`` (binary / ref / semantic)."""

    family: str = "segmentation"
    modalities: tuple[str, ...] = ("image", "audio")
    kind: str = "binary"
    route: str = "mask"
    classes: tuple[str, ...] = ()
    higher_is_better: ClassVar[dict[str, bool]] = {}  # per kind, see __post_init__
    primary_metric: ClassVar[str] = ""

    def __post_init__(self) -> None:
        if self.kind not in _METRICS or self.route not in ("mask", "box_points"):
            raise ValueError(f"{self.name}: kind must be one of {list(_METRICS)}, route mask|box_points")
        if self.kind == "semantic" and (self.route != "mask" or len(self.classes) < 2):
            raise ValueError(f"{self.name}: semantic segmentation needs route='mask' and its classes")
        # per-instance values shadow the ClassVar defaults (frozen dataclass: object.__setattr__)
        object.__setattr__(self, "higher_is_better", dict(_DIRECTIONS[self.kind]))
        object.__setattr__(self, "primary_metric", "miou" if self.kind == "semantic" else "j")

    def present_classes(self, mask) -> list[str]:
        """Names of the foreground classes of a class-index map, in index order."""
        ids = torch.unique(torch.as_tensor(mask).long()).tolist()
        bad = [i for i in ids if not 0 <= i < len(self.classes)]
        if bad:
            raise ValueError(f"{self.name}: mask has class ids {bad} outside 0..{len(self.classes) - 1}")
        return [label(self.classes[i]) for i in ids if i != 0]

    def to_parts(self, target: dict) -> list[Part]:
        if self.kind == "semantic":
            return [p for name in self.present_classes(target["mask"]) for p in (Event(name), MaskToken())]
        if self.route == "mask":
            return [Text(label(target["label"])), MaskToken()]
        return [Text(label(target["label"])), *box_prompt_parts(target["mask"])]

    def from_parts(self, parts: list[Part]) -> dict:
        if self.kind == "semantic":
            return {"classes": self._semantic_classes(parts)}
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

    def _semantic_classes(self, parts: list[Part]) -> list[str]:
        """Class names of ``<event>name</event><mask>`` pairs (free text between them is ignored)."""
        only(parts, (Text, Event, MaskToken), self.name)
        tags = [p for p in parts if not isinstance(p, Text)]
        if len(tags) % 2 or not all(
            isinstance(a, Event) and isinstance(b, MaskToken) for a, b in zip(tags[::2], tags[1::2])
        ):
            raise Reject(f"{self.name}: needs <event>class</event><mask> pairs")
        return [e.label for e in tags[::2]]

    def text_view(self, target: dict) -> dict:
        if self.kind == "semantic":
            return {"classes": self.present_classes(target["mask"])}
        view = {"label": label(target["label"])}
        if self.route == "box_points":
            view.update(box_prompt_view(target["mask"]))
        return view

    def make_metric(self) -> Metric:
        if self.kind == "semantic":
            return SemanticMaskScores(self.classes)
        return _METRICS[self.kind]()

    def trivial_prediction(self, targets: list[dict]) -> list[dict]:
        if self.kind == "semantic":
            return [
                {"classes": [], "mask": torch.zeros_like(torch.as_tensor(t["mask"]).long())} for t in targets
            ]
        top = majority([label(t["label"]) for t in targets])
        return [
            {"label": top, "mask": torch.zeros_like(torch.as_tensor(t["mask"]), dtype=torch.bool)}
            for t in targets
        ]
