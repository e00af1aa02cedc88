"""Mask J&F, Ref-AVS and AVSS scores against hand-worked 2×2 masks and a per-pixel reference."""

from __future__ import annotations

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
    # F: samples 1 and 3 (sample 2 has empty GT); mean curve = curve_1 / 2 -> max 0.8125 / 2
    assert out["f"] == pytest.approx(0.8125 / 2)


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


def test_avss_hand_worked() -> None:
    targets = [{"label": "dog", "mask": T([[1, 1], [0, 0]])}, {"label": "cat", "mask": T([[0, 0], [1, 1]])},
               {"label": "cat", "mask": T([[0, 0], [1, 1]])}]  # fmt: skip
    preds = [{"label": "dog", "mask": T([[1, 0], [0, 0]])}, {"label": "dog", "mask": T([[0, 0], [1, 0]])},
             {"label": "cat", "mask": T([[0, 0], [1, 1]])}]  # fmt: skip
    metric = SemanticMaskScores()
    metric.update(preds, targets)
    # 1: dog IoU 1/2, P 1 R 1/2 -> F 0.8125;  2: cat IoU 0 F 0 (missed), dog IoU 0 F 0 (false);  3: cat 1, 1
    # per class: dog IoU (0.5 + 0)/2, F (0.8125 + 0)/2; cat IoU (0 + 1)/2, F (0 + 1)/2
    assert metric.compute() == pytest.approx({"miou": (0.25 + 0.5) / 2, "f": (0.40625 + 0.5) / 2})


def test_prediction_mask_is_resized() -> None:
    metric = MaskJF()
    big = torch.zeros(4, 4, dtype=torch.bool)
    big[:2, :] = True  # top half, nearest-resized to [[1,1],[0,0]]
    metric.update([{"mask": big}], [{"mask": T([[1, 1], [0, 0]])}])
    assert metric.compute()["j"] == pytest.approx(1.0)
