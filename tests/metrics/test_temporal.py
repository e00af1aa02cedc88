"""AVE segment accuracy and UnAV-100 detection F1 against hand-worked numbers and a slow reference."""

from __future__ import annotations

import random

import pytest

from crabplus.metrics import SegmentAccuracy, TemporalDetectionF1

pytestmark = pytest.mark.unit
UNP = {"unparseable": True, "text": "junk", "reason": "x"}


def test_segment_accuracy_hand_worked() -> None:
    targets = [{"label": "dog", "segments": [[2, 5]], "duration": 6},
               {"label": "dog", "segments": [[0, 4]], "duration": 4},
               {"label": "dog", "segments": [[2, 5]], "duration": 6}]  # fmt: skip
    preds = [{"label": "dog", "segments": [[3, 6]]}, UNP, {"label": "cat", "segments": [[2, 5]]}]
    metric = SegmentAccuracy()
    metric.update(preds, targets)
    # 1: gold bg bg D D D bg, pred bg bg bg D D D -> 4/6;  2: unparseable -> 0/4;
    # 3: gold bg bg D D D bg, pred bg bg C C C bg -> 3/6;  total (4 + 0 + 3) / 16
    assert metric.compute()["segment_accuracy"] == pytest.approx(7 / 16)


def _reference_segment_accuracy(preds, targets) -> float:
    correct = total = 0
    for p, t in zip(preds, targets):
        for sec in range(int(t["duration"])):
            mid = sec + 0.5
            gold = t["label"] if any(s <= mid < e for s, e in t["segments"]) else None
            guess = p["label"] if any(s <= mid < e for s, e in p["segments"]) else None
            correct += gold == guess
            total += 1
    return correct / total


def test_segment_accuracy_matches_reference_and_splits() -> None:
    r = random.Random(0)

    def sample():
        s = r.randint(0, 8) / 2
        return {"label": r.choice("ab"), "segments": [[s, s + r.randint(1, 8) / 2]], "duration": 10}

    targets = [sample() for _ in range(30)]
    preds = [sample() for _ in range(30)]
    whole, a, b = SegmentAccuracy(), SegmentAccuracy(), SegmentAccuracy()
    whole.update(preds, targets)
    a.update(preds[:11], targets[:11])
    b.update(preds[11:], targets[11:])
    a.merge_state(b)
    ref = _reference_segment_accuracy(preds, targets)
    assert whole.compute()["segment_accuracy"] == pytest.approx(ref)
    assert a.compute()["segment_accuracy"] == pytest.approx(ref)


def test_detection_f1_hand_worked() -> None:
    target = {"events": [["dog", 0, 4], ["cat", 5, 10]], "duration": 10}
    pred = {"events": [["dog", 1, 4], ["cat", 5, 8], ["cat", 0, 2]]}
    metric = TemporalDetectionF1()
    metric.update([pred], [target])
    out = metric.compute()
    # tIoU: dog 3/4 = 0.75, cat(5,8) 3/5 = 0.6, cat(0,2) 0; #pred 3, #gt 2
    # θ 0.5, 0.6: TP 2 -> 2·2/5 = 0.8;  θ 0.7: TP 1 -> 0.4;  θ 0.8, 0.9: 0
    assert out["f1_iou50"] == pytest.approx(0.8) and out["f1_iou60"] == pytest.approx(0.8)
    assert out["f1_iou70"] == pytest.approx(0.4) and out["f1_iou80"] == 0 and out["f1_iou90"] == 0
    assert out["avg_f1"] == pytest.approx((0.8 + 0.8 + 0.4) / 5)
    assert out["mean_tiou"] == pytest.approx((0.75 + 0.6) / 2)


def test_detection_is_one_to_one() -> None:
    metric = TemporalDetectionF1(thresholds=(0.5,))
    metric.update([{"events": [["dog", 0, 4], ["dog", 0, 4]]}], [{"events": [["dog", 0, 4]], "duration": 10}])
    # the duplicate prediction is a false positive: TP 1, #pred 2, #gt 1 -> 2/3
    assert metric.compute()["f1_iou50"] == pytest.approx(2 / 3)
