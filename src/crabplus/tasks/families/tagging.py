"""Clip-level tagging: the set of events in a clip, without modality or time (AVVP's weak labels).

Target and prediction ``{"labels": [label, ...]}`` (a set: order and repeats carry nothing); answer
``<event>l1</event><event>l2</event>…`` in sorted canonical order, no spans; metric: sample-averaged set F1
and subset accuracy (``metrics.label_sets``), primary ``f1``; baseline: the most frequent label alone.

Why a family of its own: weak video-level labels are not events with spans. Writing them as whole-clip
events of both modalities would invent strong labels that the dense parsing metric would then trust.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from crabplus.answer import Event, Part, Text
from crabplus.metrics.label_sets import LabelSetScores
from crabplus.tasks._base import Reject, Task, majority
from crabplus.tasks.families._parts import label

__all__ = ["TaggingTask"]


@dataclass(frozen=True)
class TaggingTask(Task):
    """A set of labels per clip."""

    family: str = "tagging"
    list_options: bool = False
    higher_is_better: ClassVar[dict[str, bool]] = {"f1": True, "exact": True}
    primary_metric: ClassVar[str] = "f1"

    def to_parts(self, target: dict) -> list[Part]:
        return [Event(lab) for lab in self.text_view(target)["labels"]]

    def from_parts(self, parts: list[Part]) -> dict:
        events = [p for p in parts if not isinstance(p, Text)]
        if any(not isinstance(p, Event) for p in events):
            raise Reject(f"{self.name}: only <event> labels, no spans or groups")
        return {"labels": sorted({label(p.label) for p in events})}

    def text_view(self, target: dict) -> dict:
        return {"labels": sorted({label(x) for x in target["labels"]})}

    def make_metric(self) -> LabelSetScores:
        return LabelSetScores("labels")

    def trivial_prediction(self, targets: list[dict]) -> list[dict]:
        labels = [label(x) for t in targets for x in t["labels"]]
        top = [majority(labels)] if labels else []
        return [{"labels": list(top)} for _ in targets]
