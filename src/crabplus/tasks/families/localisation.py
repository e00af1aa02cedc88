"""Temporal localisation: one event with its time spans (AVE) and dense multi-event localisation (UnAV-100).

AVE-style target ``{"label", "segments": [[s, e], ...], "duration"}``, prediction ``{"label", "segments"}``,
answer ``<event>label</event><span>s,e</span>…``; metric: segment accuracy over 1-s segments; baseline:
the majority label over the whole clip ``[0, duration]``.

Dense target ``{"events": [[label, s, e], ...], "duration"}``, prediction ``{"events"}``, answer
``<event>l</event><span>s,e</span>`` per event; metric: detection F1 at tIoU 0.5…0.9 and mean tIoU;
baseline: the majority label over the whole clip. ``duration`` is clip metadata, not answer text.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from crabplus.answer import Part
from crabplus.metrics.temporal import TIOU_THRESHOLDS, SegmentAccuracy, TemporalDetectionF1
from crabplus.tasks._base import Reject, Task, majority
from crabplus.tasks.families._parts import canonical_events, event_parts, events_from_parts, label, seconds

__all__ = ["EventLocalisationTask", "DenseLocalisationTask"]


@dataclass(frozen=True)
class EventLocalisationTask(Task):
    """One labelled event and the spans where it happens."""

    family: str = "localisation"
    list_options: bool = False
    higher_is_better: ClassVar[dict[str, bool]] = {"segment_accuracy": True}
    primary_metric: ClassVar[str] = "segment_accuracy"

    def to_parts(self, target: dict) -> list[Part]:
        return event_parts([[target["label"], s, e] for s, e in target["segments"]])

    def from_parts(self, parts: list[Part]) -> dict:
        events = events_from_parts(parts, self.name)
        labels = {lab for lab, _, _ in events}
        if len(labels) != 1:
            raise Reject(f"{self.name}: expected one event label, got {len(labels)}")
        return {"label": labels.pop(), "segments": [[s, e] for _, s, e in events]}

    def text_view(self, target: dict) -> dict:
        return {"label": label(target["label"]), "segments": [seconds(s, e) for s, e in target["segments"]]}

    def make_metric(self) -> SegmentAccuracy:
        return SegmentAccuracy()

    def trivial_prediction(self, targets: list[dict]) -> list[dict]:
        top = majority([label(t["label"]) for t in targets])
        return [{"label": top, "segments": [[0.0, float(t["duration"])]]} for t in targets]


@dataclass(frozen=True)
class DenseLocalisationTask(Task):
    """Any number of labelled events, each with one span."""

    family: str = "localisation"
    list_options: bool = False
    higher_is_better: ClassVar[dict[str, bool]] = {
        **{f"f1_iou{round(t * 100)}": True for t in TIOU_THRESHOLDS},
        "avg_f1": True,
        "mean_tiou": True,
    }
    primary_metric: ClassVar[str] = "avg_f1"

    def to_parts(self, target: dict) -> list[Part]:
        return event_parts(target["events"])

    def from_parts(self, parts: list[Part]) -> dict:
        return {"events": events_from_parts(parts, self.name)}

    def text_view(self, target: dict) -> dict:
        return {"events": canonical_events(target["events"])}

    def make_metric(self) -> TemporalDetectionF1:
        return TemporalDetectionF1()

    def trivial_prediction(self, targets: list[dict]) -> list[dict]:
        labels = [label(ev[0]) for t in targets for ev in t["events"]]
        top = majority(labels) if labels else "background"
        return [{"events": [[top, 0.0, float(t["duration"])]]} for t in targets]
