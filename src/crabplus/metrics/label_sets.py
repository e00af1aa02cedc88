"""Scores of predicted label *sets* against target sets (clip-level tagging: AVVP's weak labels).

Protocol. Labels are compared in canonical form (``label_key``: whitespace-collapsed, lower case) and as
sets (order and repeats do not matter). Per clip, ``F1 = 2·|P ∩ T| / (|P| + |T|)`` (1 when both sets are
empty) and ``exact = [P == T]``; the metric averages both over clips (sample-averaged F1, as scikit-learn's
``f1_score(average="samples")``; exact = subset accuracy). An unparseable prediction scores 0 on both.
"""

from __future__ import annotations

import torch
from torchmetrics import Metric

from crabplus.answer import is_unparseable
from crabplus.metrics._strings import label_key

__all__ = ["LabelSetScores", "set_f1"]


def set_f1(pred: set[str], target: set[str]) -> float:
    """``2·|P ∩ T| / (|P| + |T|)``; 1.0 for two empty sets."""
    if not pred and not target:
        return 1.0
    return 2 * len(pred & target) / (len(pred) + len(target))


class LabelSetScores(Metric):
    """Sample-averaged set F1 (``f1``) and subset accuracy (``exact``) of the label list under ``key``."""

    full_state_update = False
    higher_is_better = True

    def __init__(self, key: str = "labels", **kwargs) -> None:
        super().__init__(**kwargs)
        self.key = key
        for name in ("f1_sum", "exact_sum", "count"):
            self.add_state(name, default=torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")

    def update(self, predictions: list[dict], targets: list[dict]) -> None:
        """Record one batch of predicted and target ``{key: [label, ...]}`` dicts."""
        for pred, target in zip(predictions, targets, strict=True):
            truth = {label_key(x) for x in target[self.key]}
            labels = None if is_unparseable(pred) else pred.get(self.key)
            if not isinstance(labels, list):
                f1, exact = 0.0, 0.0
            else:
                guess = {label_key(x) for x in labels}
                f1, exact = set_f1(guess, truth), float(guess == truth)
            self.f1_sum += f1
            self.exact_sum += exact
            self.count += 1

    def compute(self) -> dict[str, float]:
        """``{"f1", "exact"}`` over every clip seen (NaN before any update)."""
        n = float(self.count)
        if n == 0:
            return {"f1": float("nan"), "exact": float("nan")}
        return {"f1": float(self.f1_sum) / n, "exact": float(self.exact_sum) / n}
