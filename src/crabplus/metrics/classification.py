"""Label accuracy and support-weighted F1 (recognition, matching) and QA accuracy per question type.

Protocol. Labels are compared in canonical form (whitespace-collapsed, lower case: ``label_key``); an
unparseable prediction (or one missing the label key) counts as wrong. Weighted F1 follows scikit-learn's
``f1_score(average="weighted")``: per target class ``F1_c = 2·TP_c / (2·TP_c + FP_c + FN_c)``, weighted by
the class's share of the targets (classes that appear only in predictions carry weight 0). QA accuracy is
exact-match on the canonical answer (stricter than MUSIC-AVQA's substring match and its dropping of
unparseable answers), overall and per ``type`` of the target. A type ``"<group>/<question type>"`` (as the
MUSIC-AVQA converter writes ``["Audio-Visual", "Existential"]``) also scores its group: correct answers over
all of the group's questions, as the official evaluation (``test()`` of MUSIC-AVQA's ``main_avst.py``)
prints its Audio / Visual / Audio-Visual accuracies beside each question type's.
"""

from __future__ import annotations

from collections import Counter

import torch
from torchmetrics import Metric

from crabplus.answer import is_unparseable
from crabplus.metrics._strings import add_string_state, append_strings, cat_state, label_key, read_strings

__all__ = ["LabelScores", "QAAccuracy", "weighted_f1", "UNPARSEABLE_LABEL"]

UNPARSEABLE_LABEL = "\x00unparseable"
"""Stand-in label of an unparseable prediction: never equal to a target label."""


def _pred_label(pred: dict, key: str) -> str:
    if is_unparseable(pred) or not isinstance(pred.get(key), str):
        return UNPARSEABLE_LABEL
    return label_key(pred[key])


def weighted_f1(preds: list[str], targets: list[str]) -> float:
    """Support-weighted mean over target classes of the per-class F1 (see module docstring)."""
    if not targets:
        return float("nan")
    support = Counter(targets)
    score = 0.0
    for cls, n in support.items():
        tp = sum(p == cls and t == cls for p, t in zip(preds, targets))
        fp = sum(p == cls and t != cls for p, t in zip(preds, targets))
        fn = n - tp
        score += n / len(targets) * (2 * tp / (2 * tp + fp + fn))
    return score


class LabelScores(Metric):
    """Accuracy and weighted F1 of the label under ``key`` (``"label"`` for recognition)."""

    full_state_update = False
    higher_is_better = True

    def __init__(self, key: str = "label", **kwargs) -> None:
        super().__init__(**kwargs)
        self.key = key
        add_string_state(self, "pred")
        add_string_state(self, "target")

    def update(self, predictions: list[dict], targets: list[dict]) -> None:
        """Record one batch of predicted and target label dicts."""
        append_strings(self, "pred", [_pred_label(p, self.key) for p in predictions])
        append_strings(self, "target", [label_key(t[self.key]) for t in targets])

    def compute(self) -> dict[str, float]:
        """``{"accuracy", "weighted_f1"}`` over everything seen (NaN before any update)."""
        preds, targets = read_strings(self, "pred"), read_strings(self, "target")
        if not targets:
            return {"accuracy": float("nan"), "weighted_f1": float("nan")}
        accuracy = sum(p == t for p, t in zip(preds, targets)) / len(targets)
        return {"accuracy": accuracy, "weighted_f1": weighted_f1(preds, targets)}


class QAAccuracy(Metric):
    """Exact-match answer accuracy, overall (``accuracy``), per target type (``accuracy/<type>``) and per
    type group (``accuracy/<group>`` for types ``<group>/<name>``, e.g. ``accuracy/audio-visual``)."""

    full_state_update = False
    higher_is_better = True

    def __init__(self, key: str = "answer", **kwargs) -> None:
        super().__init__(**kwargs)
        self.key = key
        add_string_state(self, "type")
        self.add_state("correct", default=[], dist_reduce_fx="cat")

    def update(self, predictions: list[dict], targets: list[dict]) -> None:
        """Record one batch; targets carry ``answer`` and optionally ``type``."""
        hits = [_pred_label(p, self.key) == label_key(t[self.key]) for p, t in zip(predictions, targets)]
        self.correct.append(torch.tensor(hits, dtype=torch.bool, device=self.device))
        append_strings(self, "type", [label_key(t.get("type") or "all").replace(" ", "_") for t in targets])

    def compute(self) -> dict[str, float]:
        """``accuracy`` plus ``accuracy/<type>`` for every type and ``accuracy/<group>`` for every group seen."""
        hits = cat_state(self.correct, torch.bool).tolist()
        if not hits:
            return {"accuracy": float("nan")}
        out = {"accuracy": sum(hits) / len(hits)}
        by_type: dict[str, list[bool]] = {}
        for kind, hit in zip(read_strings(self, "type"), hits):
            by_type.setdefault(kind, []).append(bool(hit))
            if "/" in kind:
                by_type.setdefault(kind.split("/", 1)[0], []).append(bool(hit))
        for kind in sorted(by_type):
            out[f"accuracy/{kind}"] = sum(by_type[kind]) / len(by_type[kind])
        return out
