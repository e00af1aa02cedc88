"""Recognition and matching: the answer is one label (action, emotion, "yes"/"no", "one"/"two").

Target and prediction ``{"label"}``; answer ``<answer>label</answer>``; metric: accuracy and weighted F1
(``metrics.classification``); baseline: the majority label of the evaluated targets.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from crabplus.answer import Part, Text
from crabplus.metrics.classification import LabelScores
from crabplus.tasks._base import Task, majority
from crabplus.tasks.families._parts import label, only, text_of

__all__ = ["RecognitionTask"]


@dataclass(frozen=True)
class RecognitionTask(Task):
    """A single-label task."""

    family: str = "recognition"
    higher_is_better: ClassVar[dict[str, bool]] = {"accuracy": True, "weighted_f1": True}
    primary_metric: ClassVar[str] = "accuracy"

    def to_parts(self, target: dict) -> list[Part]:
        return [Text(label(target["label"]))]

    def from_parts(self, parts: list[Part]) -> dict:
        only(parts, (Text,), self.name)
        return {"label": text_of(parts, self.name)}

    def text_view(self, target: dict) -> dict:
        return {"label": label(target["label"])}

    def make_metric(self) -> LabelScores:
        return LabelScores("label")

    def trivial_prediction(self, targets: list[dict]) -> list[dict]:
        top = majority([label(t["label"]) for t in targets])
        return [{"label": top} for _ in targets]
