"""Mask J&F (per-video AVSBench F), Ref-AVS and AVSS scores against hand-worked 2×2 masks."""

from __future__ import annotations

import math

import pytest
import torch

from crabplus.metrics import MaskJF, RefAVSScores, SemanticMaskScores
from crabplus.metrics.masks import f_curve

pytestmark = pytest.mark.unit
UNP = {"unparseable": True, "text": "", "reason": ""}
T = lambda rows: torch.tensor(rows, dtype=torch.bool)  # noqa: E731
PROB = torch.tensor([[0.9, 0.2], [0.6, 0.0]])
# F curve of PROB vs GT [[1,1],[0,0]] (β² = 0.3, F = 1.3PR/(0.3P+R)):
#   t = 0: 4 px, TP 2 -> P 1/2, R 1 -> 0.65/1.15;  t ∈ (0, 0.2]: P 2/3, R 1 -> 0.8667/1.2 = 0.7222
#   t ∈ (0.2, 0.6]: P 1/2, R 1/2 -> 0.5;  t ∈ (0.6, 0.9]: P 1, R 1/2 -> 0.65/0.8 = 0.8125;  t > 0.9: 0


def test_j_and_f_hand_worked() -> None:
    targets = [{"mask": T([[1, 1], [0, 0]])}, {"mask": T([[0, 0], [0, 0]])}, {"mask": T([[1, 0], [0, 0]])}]
    preds = [{"mask": PROB}, {"mask": T([[1, 0], [0, 0]])}, UNP]
    metric = MaskJF()
    metric.update(preds, targets)
    out = metric.compute()
    # J: PROB > 0.5 = [[1,0],[1,0]] -> 1/3; empty GT -> both-background share 3/4; unparseable 0
    assert out["j"] == pytest.approx((1 / 3 + 3 / 4 + 0) / 3)
    # no video keys: every frame is a video. F 0.8125; empty GT -> 0 (the reference); unparseable 0
    assert out["f"] == pytest.approx(0.8125 / 3)
    # pooled variant: object frames 1 and 3; mean curve = curve_1 / 2 -> max 0.8125 / 2
    assert out["f_pooled"] == pytest.approx(0.8125 / 2)


def test_f_per_video_two_videos_hand_worked() -> None:
    """Video A: frames PROB and a bool [[1,0],[0,0]] vs GT [[1,1],[0,0]] and [[1,0],[0,0]]; video B: one frame.

    A, frame 1 = curve of PROB (header); frame 2, bool pred = GT: t = 0 -> P 1/4, R 1 -> 0.325/1.075,
    t > 0 -> 1. Mean curve of A: t = 0: (0.65/1.15 + 0.325/1.075)/2; t ∈ (0, 0.2]: (0.7222 + 1)/2;
    (0.2, 0.6]: (0.5 + 1)/2; (0.6, 0.9]: (0.8125 + 1)/2 = 0.90625 (the max); above 0.9: 1/2 -> F_A = 0.90625.
    Video B: bool [[0,1],[0,0]] vs GT [[0,1],[1,1]]: t = 0 -> P 3/4, R 1 -> 0.975/1.225; t > 0: P 1, R 1/3
    -> 0.4333/0.6333 = 0.6842 -> F_B = 0.975/1.225. f = (F_A + F_B)/2. Pooled: max of the mean of 3 curves.
    J per video: A (1/3 + 1)/2, B 1/3 -> j = ((2/3) + 1/3)/2 = 1/2.
    """
    targets = [
        {"mask": T([[1, 1], [0, 0]]), "video": "A"},
        {"mask": T([[0, 1], [1, 1]]), "video": "B"},
        {"mask": T([[1, 0], [0, 0]]), "video": "A"},
    ]
    preds = [{"mask": PROB}, {"mask": T([[0, 1], [0, 0]])}, {"mask": T([[1, 0], [0, 0]])}]
    out = MaskJF()
    out.update(preds[:2], targets[:2])
    other = MaskJF()
    other.update(preds[2:], targets[2:])
    out.merge_state(other)  # frames of one video split across ranks still meet
    f_a, f_b = (0.8125 + 1) / 2, 0.975 / 1.225
    result = out.compute()
    assert result["f"] == pytest.approx((f_a + f_b) / 2)
    assert result["j"] == pytest.approx(0.5)
    pooled = max(
        (0.8125 + 1 + 1.3 / 3 / (0.3 + 1 / 3)) / 3, (0.65 / 1.15 + 0.325 / 1.075 + 0.975 / 1.225) / 3
    )
    assert result["f_pooled"] == pytest.approx(pooled)


def test_f_is_zero_when_no_frame_has_an_object() -> None:
    metric = MaskJF()
    metric.update([{"mask": T([[1, 0], [0, 0]])}] * 2, [{"mask": T([[0, 0], [0, 0]]), "video": "v"}] * 2)
    out = metric.compute()
    assert out["f"] == 0.0 and out["f_pooled"] == 0.0 and out["j"] == pytest.approx(0.75)


def _reference_curve(prob: torch.Tensor, gt: torch.Tensor) -> list[float]:
    out = []
    for k in range(255):
        t = k / 254 * (1 - 1e-10)
        tp = pos = 0
        for p, g in zip(prob.flatten().tolist(), gt.flatten().tolist()):
            pos += p >= t
            tp += p >= t and g
        precision, recall = tp / (pos + 1e-20), tp / (gt.sum().item() + 1e-20)
        denom = 0.3 * precision + recall
        out.append(1.3 * precision * recall / denom if denom else 0.0)
    return out


def test_f_curve_matches_per_pixel_reference() -> None:
    g = torch.Generator().manual_seed(0)
    prob, gt = torch.rand(5, 6, generator=g), torch.rand(5, 6, generator=g) > 0.6
    assert f_curve(prob.double(), gt).tolist() == pytest.approx(_reference_curve(prob, gt))


def test_ref_avs_hand_worked_and_split() -> None:
    targets = [{"mask": T([[1, 1], [0, 0]]), "subset": "seen"}, {"mask": T([[1, 0], [0, 0]]), "subset": "unseen"},
               {"mask": T([[0, 0], [0, 0]]), "subset": "null"}, {"mask": T([[0, 0], [0, 0]]), "subset": "null"}]  # fmt: skip
    preds = [{"mask": PROB}, {"mask": T([[1, 0], [0, 0]])}, {"mask": T([[1, 0], [0, 0]])}, UNP]
    # unseen bool mask: t = 0 -> P 1/4, R 1 -> 0.325/1.075; t > 0 -> 1
    expected = {
        "j_seen": 1 / 3, "f_seen": 0.8125, "j_unseen": 1.0, "f_unseen": 1.0,
        "j": (1 / 3 + 1) / 2, "f": (0.8125 + 1) / 2,  # pooled curve peaks on t ∈ (0.6, 0.9]
        "s_null": (0.5 + 1.0) / 2,  # sqrt(1/4) = 0.5; unparseable -> 1
    }  # fmt: skip
    whole = RefAVSScores()
    whole.update(preds, targets)
    assert whole.compute() == pytest.approx(expected)
    a, b = RefAVSScores(), RefAVSScores()
    a.update(preds[:2], targets[:2])
    b.update(preds[2:], targets[2:])
    b.merge_state(a)
    assert b.compute() == pytest.approx(expected)


CLASSES = ("background", "dog", "cat", "car")
L = lambda rows: torch.tensor(rows, dtype=torch.long)  # noqa: E731


def test_avss_hand_worked_with_background() -> None:
    """Two 2×2 frames over 4 classes (0 background); AVSBench sums per class over frames, then averages.

    Frame 1: GT [[1,1],[0,0]], pred [[1,0],[0,0]]: bg inter 2, pred 3, gt 2 -> IoU 2/3, P 2/3 R 1 ->
      F 1.3·(2/3)/(0.2 + 1) = 0.72222; dog inter 1 pred 1 gt 2 -> IoU 1/2, P 1 R 1/2 -> F 0.8125.
    Frame 2: GT [[0,0],[2,2]], pred [[0,0],[1,2]]: bg inter 2 pred 2 gt 2 -> IoU 1, F 1; cat inter 1 pred 1
      gt 2 -> IoU 1/2, F 0.8125; dog inter 0 pred 1 gt 0 -> IoU 0, F 0 (recall 0/0), counted (in the union).
    Per class (sum / count): bg IoU (2/3 + 1)/2, F (0.72222 + 1)/2; dog IoU (1/2 + 0)/2, F 0.8125/2;
    cat IoU 1/2, F 0.8125; car never occurs: 0. miou/f: mean over all 4 classes; *_present over 3.
    """
    targets = [{"mask": L([[1, 1], [0, 0]])}, {"mask": L([[0, 0], [2, 2]])}]
    preds = [{"mask": L([[1, 0], [0, 0]])}, {"mask": L([[0, 0], [1, 2]])}]
    metric = SemanticMaskScores(CLASSES)
    metric.update(preds, targets)
    f_bg1 = 1.3 * (2 / 3) / (0.3 * 2 / 3 + 1)
    iou = [(2 / 3 + 1) / 2, 0.25, 0.5, 0.0]
    fs = [(f_bg1 + 1) / 2, 0.8125 / 2, 0.8125, 0.0]
    assert metric.compute() == pytest.approx(
        {"miou": sum(iou) / 4, "f": sum(fs) / 4, "miou_present": sum(iou) / 3, "f_present": sum(fs) / 3}
    )


def test_avss_probability_stack_paints_classes() -> None:
    """Per-<mask> probability maps become a class map: most probable mask above 0.5, else background."""
    stack = torch.tensor([[[0.9, 0.6], [0.1, 0.2]], [[0.2, 0.7], [0.3, 0.4]]])  # masks for dog, cat
    metric = SemanticMaskScores(CLASSES)
    painted = metric.class_map({"classes": ["dog", "cat"], "mask": stack}, (2, 2))
    assert painted.tolist() == [[1, 2], [0, 0]]
    assert metric.class_map({"classes": ["zebra"], "mask": stack[:1]}, (2, 2)).tolist() == [[0, 0], [0, 0]]
    assert (metric.class_map(UNP, (2, 2)) == -1).all()


def test_prediction_mask_is_resized() -> None:
    metric = MaskJF()
    big = torch.zeros(4, 4, dtype=torch.bool)
    big[:2, :] = True  # top half, nearest-resized to [[1,1],[0,0]]
    metric.update([{"mask": big}], [{"mask": T([[1, 1], [0, 0]])}])
    assert metric.compute()["j"] == pytest.approx(1.0)


def test_ref_avs_f_is_zero_without_object_frames_and_nan_without_frames() -> None:
    metric = RefAVSScores()
    metric.update([{"mask": T([[1, 0], [0, 0]])}], [{"mask": T([[0, 0], [0, 0]]), "subset": "seen"}])
    out = metric.compute()
    assert out["f_seen"] == 0.0 and out["j_seen"] == pytest.approx(0.75)
    assert math.isnan(out["f_unseen"]) and math.isnan(out["j_unseen"])
