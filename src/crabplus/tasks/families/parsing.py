"""Audio-visual video parsing (AVVP/LLP): per-modality event lists.

Target ``{"audio": [[label, s, e], ...], "visual": [...], "duration"}``, prediction ``{"audio", "visual"}``;
answer ``<audio_events><event>l</event><span>s,e</span>…</audio_events><visual_events>…</visual_events>``
(both groups always present, possibly empty; ``<audio>`` is the audio placeholder, hence the longer tags,
as Crab's ``<audio_event>`` rewrite). Metric: AVVP segment/event F1 (``metrics.avvp``), primary
``seg_type_av``; baseline: each modality's majority label over the whole clip.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from crabplus.answer import Group, Part, Text
from crabplus.metrics.avvp import AVVP_KEYS, AVVPScores
from crabplus.tasks._base import Reject, Task, majority
from crabplus.tasks.families._parts import canonical_events, event_parts, events_from_parts, label

__all__ = ["VideoParsingTask"]

_GROUPS = {"audio": "audio_events", "visual": "visual_events"}


@dataclass(frozen=True)
class VideoParsingTask(Task):
    """Audio and visual event lists with spans."""

    family: str = "parsing"
    list_options: bool = False
    higher_is_better: ClassVar[dict[str, bool]] = dict.fromkeys(AVVP_KEYS, True)
    primary_metric: ClassVar[str] = "seg_type_av"

    def to_parts(self, target: dict) -> list[Part]:
        return [Group(group, tuple(event_parts(target[key]))) for key, group in _GROUPS.items()]

    def from_parts(self, parts: list[Part]) -> dict:
        groups = [p for p in parts if not isinstance(p, Text)]
        names = [getattr(g, "name", None) for g in groups]
        if sorted(n or "" for n in names) != sorted(_GROUPS.values()):
            raise Reject(f"{self.name}: need one <audio_events> and one <visual_events>, got {names}")
        by_name = {g.name: g for g in groups}
        return {key: events_from_parts(by_name[group].parts, self.name) for key, group in _GROUPS.items()}

    def text_view(self, target: dict) -> dict:
        return {key: canonical_events(target[key]) for key in _GROUPS}

    def make_metric(self) -> AVVPScores:
        return AVVPScores()

    def trivial_prediction(self, targets: list[dict]) -> list[dict]:
        tops = {}
        for key in _GROUPS:
            labels = [label(ev[0]) for t in targets for ev in t[key]]
            tops[key] = majority(labels) if labels else None
        return [
            {key: ([[tops[key], 0.0, float(t["duration"])]] if tops[key] else []) for key in _GROUPS}
            for t in targets
        ]
