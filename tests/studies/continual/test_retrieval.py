"""Retrieval recall and continual summaries (A, F) against hand-worked values."""

import pytest
import torch

from crabplus.studies.continual import continual_summary, retrieval_recall

pytestmark = pytest.mark.unit


def test_recall_hand_worked():
    # audio 0 -> video 0 best (rank 0); audio 1 -> video 0 scores higher than video 1 (rank 1);
    # audio 2 -> videos 0 and 1 beat video 2 (rank 2)
    video = torch.eye(3)
    audio = torch.tensor([[1.0, 0.0, 0.0], [0.8, 0.6, 0.0], [0.6, 0.5, 0.1]])
    r = retrieval_recall(audio, video, ks=(1, 2, 3))
    assert r["a2v_r1"] == pytest.approx(100 / 3)
    assert r["a2v_r2"] == pytest.approx(200 / 3)
    assert r["a2v_r3"] == pytest.approx(100.0)


def test_continual_summary_hand_worked():
    nan = float("nan")
    m = torch.tensor([[50.0, nan, nan], [30.0, 60.0, nan], [20.0, 40.0, 70.0]])
    avg, forget = continual_summary(m)
    assert avg == pytest.approx((20 + 40 + 70) / 3)
    # task 0: max(50, 30) - 20 = 30; task 1: 60 - 40 = 20 -> F = 25
    assert forget == pytest.approx(25.0)
