"""Localized patch importance and query summaries against hand-worked numbers.

Logits are built as τ·log(w), so softmax(logits/τ) = w/Σw exactly and the expected importance is a
mean of hand-chosen rational rows (worked out in the comments).
"""

import math

import pytest
import torch

from crabplus.studies.continual import patch_importance, query_summary, top_candidates

pytestmark = pytest.mark.unit
TAU = 0.4

# audio->video attention rows (3 audio queries over 4 video keys), each summing to 1
ROWS_AV = [[2 / 8, 1 / 8, 4 / 8, 1 / 8], [1 / 8, 1 / 8, 3 / 8, 3 / 8], [4 / 16, 8 / 16, 2 / 16, 2 / 16]]
# column sums: j0 .25+.125+.25 = .625, j1 .75, j2 1.0, j3 .625 -> / 3 queries = [5, 6, 8, 5] / 24
EXPECTED_IV = [5 / 24, 6 / 24, 8 / 24, 5 / 24]
# video->audio rows (4 video queries over 3 audio keys)
ROWS_VA = [[0.25, 0.25, 0.5], [0.5, 0.25, 0.25], [0.25, 0.5, 0.25], [0.5, 0.375, 0.125]]
# column sums 1.5, 1.375, 1.125 -> / 4 = .375, .34375, .28125
EXPECTED_IA = [0.375, 0.34375, 0.28125]


def _logits(rows):
    return TAU * torch.tensor([[[[math.log(w) for w in row] for row in rows]]])  # (1, 1, Lq, Lk)


def test_patch_importance_hand_worked():
    imp_v, imp_a = patch_importance(_logits(ROWS_AV), _logits(ROWS_VA), TAU)
    torch.testing.assert_close(imp_v, torch.tensor([EXPECTED_IV]))
    torch.testing.assert_close(imp_a, torch.tensor([EXPECTED_IA]))


def test_importance_sums_to_one_and_is_head_mean():
    torch.manual_seed(0)
    a_av, a_va = torch.randn(2, 3, 5, 7), torch.randn(2, 3, 7, 5)
    imp_v, imp_a = patch_importance(a_av, a_va, TAU)
    torch.testing.assert_close(imp_v.sum(-1), torch.ones(2))
    torch.testing.assert_close(imp_a.sum(-1), torch.ones(2))
    per_head = torch.stack(
        [patch_importance(a_av[:, h : h + 1], a_va[:, h : h + 1], TAU)[0] for h in range(3)]
    )
    torch.testing.assert_close(imp_v, per_head.mean(0))


def test_top_candidates():
    cand = top_candidates(torch.tensor([EXPECTED_IV]), 2)
    assert cand.tolist() == [[False, True, True, False]]


def test_query_summary_hand_worked():
    q = torch.tensor([[[[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [2.0, 0.0]]]])  # (1, 1, 4, 2)
    imp = torch.tensor([EXPECTED_IV])
    cand = torch.tensor([[False, True, True, False]])
    # (6·[0, 1] + 8·[1, 1]) / 14 = [8/14, 1]
    torch.testing.assert_close(query_summary(q, imp, cand), torch.tensor([[[8 / 14, 1.0]]]))
