"""The Task contract shared by every task family (docs/architecture.md, "Tasks").

A task is data plus five behaviours: a prompt from ``meta``, answer text from a structured target, a parser
that never raises, a metric, and a chance-level baseline. Family classes (``tasks/families/``) implement
the target ⇄ answer-parts mapping once; each registered task (one file per task) is an instance of a
family with its own name, instruction and modalities — composition, no per-task subclasses.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any, ClassVar

from torchmetrics import Metric

from crabplus.answer import Part, Unparseable, format_answer, parse_answer, unparseable_dict

__all__ = ["Task", "Reject", "media_header", "majority"]

_MEDIA_LINES = {
    "video": "This is a video:\n<video>\n",
    "audio": "This is an audio:\n<audio>\n",
    "image": "This is an image:\n<image>\n",
}


def media_header(modalities: tuple[str, ...]) -> str:
    """Crab's prompt preamble: one line and one placeholder per modality, in the given order."""
    return "".join(_MEDIA_LINES[m] for m in modalities)


def majority(values: list[Hashable]) -> Any:
    """Most frequent value (ties: the first seen)."""
    return Counter(values).most_common(1)[0][0]


class Reject(Exception):
    """Raised by ``from_parts`` when well-formed answer text does not fit the task; becomes unparseable."""


class _MetaView(dict):
    def __init__(self, meta: dict, task: str) -> None:
        super().__init__(meta)
        self.task = task

    def __missing__(self, key: str) -> Any:
        raise KeyError(f"task {self.task!r}: prompt needs meta[{key!r}], meta has {sorted(self)}")


@dataclass(frozen=True)
class Task(ABC):
    """One task: name, family, modalities and the behaviours of the contract.

    Attributes:
        name: registry key (also the shard folder and the ``val/<task>/<metric>`` log key).
        instruction: prompt text after the media preamble; ``{key}`` fields are filled from ``meta``.
        modalities: media the prompt carries, in placeholder order (``"video"``, ``"audio"``, ``"image"``).
        family: task family (recognition, matching, localisation, parsing, grounding, segmentation, qa,
            captioning).
        list_options: append ``meta["options"]`` (or ``meta["classes"]``) to the prompt when present.
        label_set: the labels a target may carry (empty: any); checked by ``tasks.checked_target``.
        clip_targets: spans and boxes outside their range are clipped to it instead of the sample being
            skipped (``tasks.checked_target``).
    """

    name: str
    instruction: str
    modalities: tuple[str, ...] = ("video", "audio")
    family: str = ""
    list_options: bool = True
    label_set: tuple[str, ...] = ()
    clip_targets: bool = False

    higher_is_better: ClassVar[dict[str, bool]] = {}
    primary_metric: ClassVar[str] = ""

    # ---- prompt ---------------------------------------------------------------------------------------
    def build_prompt(self, meta: dict) -> str:
        """Instruction text with media placeholders, filled from ``meta``."""
        text = media_header(self.modalities) + self.instruction.format_map(_MetaView(meta, self.name))
        choices = meta.get("options") or meta.get("classes")
        if self.list_options and choices:
            text += "\nOptions: " + "; ".join(str(c) for c in choices) + "."
        return text

    # ---- answer text ----------------------------------------------------------------------------------
    def format_target(self, target: dict, reasoning: str | None = None) -> str:
        """Answer text of a structured target (optionally with ``<think>`` reasoning)."""
        return format_answer(self.to_parts(target), reasoning)

    def parse(self, text: str) -> dict:
        """Structured prediction of model output; junk gives ``{"unparseable": True, "text", "reason"}``."""
        parsed = parse_answer(text)
        if isinstance(parsed, Unparseable):
            return parsed.to_dict()
        try:
            return self.from_parts(list(parsed.parts))
        except Reject as err:
            return unparseable_dict(text, str(err))
        except Exception as err:  # noqa: BLE001 - the contract is "never raises"
            return unparseable_dict(text, f"internal: {type(err).__name__}: {err}")

    def is_higher_better(self, metric: str) -> bool:
        """Direction of a metric key; ``base/detail`` keys (e.g. ``accuracy/count``) follow ``base``."""
        if metric in self.higher_is_better:
            return self.higher_is_better[metric]
        return self.higher_is_better[metric.split("/", 1)[0]]

    # ---- family behaviour -----------------------------------------------------------------------------
    @abstractmethod
    def to_parts(self, target: dict) -> list[Part]:
        """Answer parts of a target."""

    @abstractmethod
    def from_parts(self, parts: list[Part]) -> dict:
        """Structured prediction from answer parts; raises ``Reject`` when they do not fit the task."""

    @abstractmethod
    def text_view(self, target: dict) -> dict:
        """The part of a target that answer text carries, canonicalised (normalised labels, float numbers):
        what ``parse(format_target(target))`` must give back. Computed from the target, not via the parser."""

    @abstractmethod
    def make_metric(self) -> Metric:
        """A fresh metric: ``update(predictions, targets)``, ``compute() -> dict[str, float]``."""

    @abstractmethod
    def trivial_prediction(self, targets: list[dict]) -> list[dict]:
        """Chance-level predictions for ``targets`` (majority class, whole clip, centre box, empty mask)."""
