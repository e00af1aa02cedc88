"""Recognition and QA metrics against hand-worked numbers and a confusion-matrix reference."""

from __future__ import annotations

import random

import pytest

from crabplus.metrics import LabelScores, QAAccuracy, weighted_f1

pytestmark = pytest.mark.unit
UNP = {"unparseable": True, "text": "junk", "reason": "no <answer>"}


def test_label_scores_hand_worked() -> None:
    preds = [{"label": "a"}, {"label": "a"}, {"label": "B"}, {"label": "b"}, UNP]
    targets = [{"label": "a"}, {"label": "b"}, {"label": "b"}, {"label": "c"}, {"label": "c"}]
    metric = LabelScores()
    metric.update(preds, targets)
    out = metric.compute()
    # correct: 0 (a=a), 2 (B≡b); wrong: 1, 3, 4 (unparseable) -> 2/5
    assert out["accuracy"] == pytest.approx(2 / 5)
    # a: support 1, TP 1, FP 1 (#1), FN 0 -> 2/3;  b: support 2, TP 1, FP 1 (#3), FN 1 (#1) -> 2/4;
    # c: support 2, TP 0 -> 0;  weighted = (1·2/3 + 2·1/2 + 2·0) / 5 = 1/3
    assert out["weighted_f1"] == pytest.approx(1 / 3)


def _reference_weighted_f1(preds: list[str], targets: list[str]) -> float:
    classes = sorted(set(preds) | set(targets))
    conf = {(p, t): 0 for p in classes for t in classes}
    for p, t in zip(preds, targets):
        conf[p, t] += 1
    total = 0.0
    for c in set(targets):
        tp = conf[c, c]
        precision = tp / max(1, sum(conf[c, t] for t in classes))
        recall = tp / sum(conf[p, c] for p in classes)
        f1 = 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)
        total += f1 * targets.count(c) / len(targets)
    return total


@pytest.mark.parametrize("seed", range(20))
def test_weighted_f1_matches_reference(seed: int) -> None:
    r = random.Random(seed)
    preds = [r.choice("abcd") for _ in range(30)]
    targets = [r.choice("abc") for _ in range(30)]
    assert weighted_f1(preds, targets) == pytest.approx(_reference_weighted_f1(preds, targets))


def test_qa_accuracy_per_type_hand_worked_and_split() -> None:
    preds = [{"answer": "two"}, {"answer": "one"}, {"answer": " Yes "}, {"answer": "left"}, UNP]
    targets = [{"answer": "two", "type": "count"}, {"answer": "three", "type": "count"},
               {"answer": "yes", "type": "count"}, {"answer": "left", "type": "Left Right"},
               {"answer": "no", "type": "Left Right"}]  # fmt: skip
    whole = QAAccuracy()
    whole.update(preds, targets)
    # hits: 1, 0, 1, 1, 0 -> 3/5; count: 2/3; left_right: 1/2
    expected = {"accuracy": 3 / 5, "accuracy/count": 2 / 3, "accuracy/left_right": 1 / 2}
    assert whole.compute() == pytest.approx(expected)
    a, b = QAAccuracy(), QAAccuracy()
    a.update(preds[:2], targets[:2])
    b.update(preds[2:], targets[2:])
    a.merge_state(b)
    assert a.compute() == pytest.approx(expected)
