"""Captioning: free text. Target and prediction ``{"text"}``; answer ``<answer>caption</answer>``.

Metric: BLEU-4, ROUGE-L, CIDEr-D (``metrics.captioning``), primary CIDEr-D; baseline: the most frequent
reference caption, given to every sample. Captions may not contain ``<`` or ``>`` (grammar characters).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from crabplus.answer import Part, Text
from crabplus.metrics.captioning import CaptionScores
from crabplus.tasks._base import Task, majority
from crabplus.tasks.families._parts import label, only, text_of

__all__ = ["CaptionTask"]


def _first(text: str | list[str]) -> str:
    return text if isinstance(text, str) else text[0]


@dataclass(frozen=True)
class CaptionTask(Task):
    """A captioning task (a list of references is allowed; the first one is the training answer)."""

    family: str = "captioning"
    list_options: bool = False
    higher_is_better: ClassVar[dict[str, bool]] = {"bleu4": True, "rougeL": True, "cider": True}
    primary_metric: ClassVar[str] = "cider"

    def to_parts(self, target: dict) -> list[Part]:
        return [Text(label(_first(target["text"])))]

    def from_parts(self, parts: list[Part]) -> dict:
        only(parts, (Text,), self.name)
        return {"text": text_of(parts, self.name)}

    def text_view(self, target: dict) -> dict:
        return {"text": label(_first(target["text"]))}

    def make_metric(self) -> CaptionScores:
        return CaptionScores()

    def trivial_prediction(self, targets: list[dict]) -> list[dict]:
        top = majority([label(_first(t["text"])) for t in targets])
        return [{"text": top} for _ in targets]
