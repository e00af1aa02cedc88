"""Question answering (MUSIC-AVQA open answers, AVQA multiple choice, synthetic QA).

Target ``{"answer", "type"}`` (``type`` optional: the question type used for per-type accuracy);
prediction ``{"answer"}``; answer ``<answer>word</answer>``; metric: exact-match accuracy overall and per
type (``metrics.classification.QAAccuracy``); baseline: the majority answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from crabplus.answer import Part, Text
from crabplus.metrics.classification import QAAccuracy
from crabplus.tasks._base import Task, majority
from crabplus.tasks.families._parts import label, only, text_of

__all__ = ["QATask"]


@dataclass(frozen=True)
class QATask(Task):
    """A question-answering task; the prompt takes ``meta["question"]`` (and lists ``options``)."""

    family: str = "qa"
    higher_is_better: ClassVar[dict[str, bool]] = {"accuracy": True}
    primary_metric: ClassVar[str] = "accuracy"

    def to_parts(self, target: dict) -> list[Part]:
        return [Text(label(target["answer"]))]

    def from_parts(self, parts: list[Part]) -> dict:
        only(parts, (Text,), self.name)
        return {"answer": text_of(parts, self.name)}

    def text_view(self, target: dict) -> dict:
        return {"answer": label(target["answer"])}

    def make_metric(self) -> QAAccuracy:
        return QAAccuracy("answer")

    def trivial_prediction(self, targets: list[dict]) -> list[dict]:
        top = majority([label(t["answer"]) for t in targets])
        return [{"answer": top} for _ in targets]
