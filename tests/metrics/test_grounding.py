"""Box grounding scores against hand-worked numbers."""

from __future__ import annotations

import pytest

from crabplus.metrics import BoxGroundingScores, box_iou

pytestmark = pytest.mark.unit


def test_box_iou() -> None:
    # inter 0.25·0.25 = 1/16; union 1/4 + 1/4 - 1/16 = 7/16 -> 1/7
    assert box_iou([0, 0, 0.5, 0.5], [0.25, 0.25, 0.75, 0.75]) == pytest.approx(1 / 7)
    assert box_iou([0, 0, 0.5, 0.5], [0.5, 0.5, 1, 1]) == 0.0
    assert box_iou([0.2, 0.2, 0.2, 0.2], [0.2, 0.2, 0.2, 0.2]) == 0.0  # no area, no IoU


def test_grounding_hand_worked_and_split() -> None:
    targets = [{"label": "dog", "box": [0, 0, 0.5, 0.5]}, {"label": "cat", "box": [0.1, 0.2, 0.3, 0.4]},
               {"label": "car", "box": [0, 0, 1, 1]}]  # fmt: skip
    preds = [{"label": "dog", "box": [0.25, 0.25, 0.75, 0.75]}, {"label": "Cat", "box": [0.1, 0.2, 0.3, 0.4]},
             {"unparseable": True, "text": "", "reason": ""}]  # fmt: skip
    expected = {
        "iou": (1 / 7 + 1 + 0) / 3,
        "ciou": 1 / 3,  # only the exact box has IoU >= 0.5
        # success s(t): t=0 -> 1; t=0.05, 0.10 -> 2/3 (1/7 ≈ 0.143 passes); t=0.15 … 1.0 -> 1/3 (17 points)
        # trapezoids · 0.05: (1 + 2/3)/2 + 2/3 + (2/3 + 1/3)/2 + 17·1/3 = 23/3 -> 23/60
        "auc": 23 / 60,
        "label_accuracy": 2 / 3,
    }
    whole = BoxGroundingScores()
    whole.update(preds, targets)
    assert whole.compute() == pytest.approx(expected)
    a, b = BoxGroundingScores(), BoxGroundingScores()
    a.update(preds[:1], targets[:1])
    b.update(preds[1:], targets[1:])
    a.merge_state(b)
    assert a.compute() == pytest.approx(expected)
