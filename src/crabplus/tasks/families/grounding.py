"""Spatial grounding (ARIG): the sounding object's label and box.

Target and prediction ``{"label", "box": [x1, y1, x2, y2]}`` (normalised 0-1, 0.01 grid in text); answer
``<answer>label <box>x1,y1,x2,y2</box></answer>``; metric: IoU, cIoU (share IoU ≥ 0.5), AUC, label
accuracy (``metrics.grounding``), primary ``ciou``; baseline: majority label with the centre box
``[0.25, 0.25, 0.75, 0.75]``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from crabplus.answer import BOX_DECIMALS, Box, Part, Text
from crabplus.metrics.grounding import BoxGroundingScores
from crabplus.tasks._base import Reject, Task, majority
from crabplus.tasks.families._parts import label, only, text_of

__all__ = ["GroundingTask", "CENTRE_BOX"]

CENTRE_BOX = [0.25, 0.25, 0.75, 0.75]


@dataclass(frozen=True)
class GroundingTask(Task):
    """Label plus one box."""

    family: str = "grounding"
    modalities: tuple[str, ...] = ("image", "audio")
    higher_is_better: ClassVar[dict[str, bool]] = {
        "iou": True,
        "ciou": True,
        "auc": True,
        "label_accuracy": True,
    }
    primary_metric: ClassVar[str] = "ciou"

    def to_parts(self, target: dict) -> list[Part]:
        return [Text(label(target["label"])), Box(*(float(v) for v in target["box"]))]

    def from_parts(self, parts: list[Part]) -> dict:
        only(parts, (Text, Box), self.name)
        boxes = [p for p in parts if isinstance(p, Box)]
        if len(boxes) != 1:
            raise Reject(f"{self.name}: expected one <box>, got {len(boxes)}")
        b = boxes[0]
        return {"label": text_of(parts, self.name), "box": [b.x1, b.y1, b.x2, b.y2]}

    def text_view(self, target: dict) -> dict:
        return {
            "label": label(target["label"]),
            "box": [round(float(v), BOX_DECIMALS) for v in target["box"]],
        }

    def make_metric(self) -> BoxGroundingScores:
        return BoxGroundingScores()

    def trivial_prediction(self, targets: list[dict]) -> list[dict]:
        top = majority([label(t["label"]) for t in targets])
        return [{"label": top, "box": list(CENTRE_BOX)} for _ in targets]
