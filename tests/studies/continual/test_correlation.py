"""Replay-guided correlation against hand-worked numbers, and literal formula == fast path."""

import math

import pytest
import torch

from crabplus.studies.continual import query_summary, replay_correlation, replay_correlation_fast

pytestmark = pytest.mark.unit
SQRT2 = math.sqrt(2)


def _sigmoid(x: float) -> float:
    return 1 / (1 + math.exp(-x))


def _example():
    keys = torch.tensor([[[[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [-1.0, 0.0]]]])  # current video keys (1,1,4,2)
    q_audio = torch.tensor([[[[0.0, 1.0], [0.0, 3.0], [5.0, 5.0]]]])  # current audio queries (1,1,3,2)
    imp_a = torch.tensor([[0.5, 0.3, 0.2]])
    cand_a = torch.tensor([[True, True, False]])
    cand_v = torch.tensor([[True, True, True, False]])
    past = torch.tensor([[[2.0, 0.0]]])  # past audio summary, along key 0
    logits = q_audio @ keys.transpose(-1, -2) / SQRT2  # A^{a->v} (1, 1, 3, 4)
    return keys, q_audio, logits, imp_a, cand_v, cand_a, past


def test_replay_correlation_hand_worked():
    keys, _, logits, imp_a, cand_v, cand_a, past = _example()
    p = replay_correlation(keys, logits, imp_a, cand_v, cand_a, past)
    # current summary over C_a: (.5·[0,1] + .3·[0,3]) / .8 = [0, 1.75]
    # key0 [1,0]: past 2/√2, cur 0; key1 [0,1]: past 0, cur 1.75/√2; key2 [1,1]: 2/√2 vs 1.75/√2; key3 not a candidate
    expected = [_sigmoid(2 / SQRT2), _sigmoid(-1.75 / SQRT2), _sigmoid(0.25 / SQRT2), 0.0]
    torch.testing.assert_close(p, torch.tensor([expected]))
    assert p[0, 0] > 0.5 > p[0, 1]  # aligned with the past query: likely pruned; orthogonal: likely kept


def test_fast_path_agrees_with_literal():
    torch.manual_seed(0)
    b, h, lv, la, d = 3, 2, 6, 5, 4
    k_v, q_a = torch.randn(b, h, lv, d), torch.randn(b, h, la, d)
    logits = q_a @ k_v.transpose(-1, -2) / math.sqrt(d)  # (B, H, L_A, L_V)
    imp_a = torch.rand(b, la)
    cand_a, cand_v = torch.rand(b, la) > 0.4, torch.rand(b, lv) > 0.5
    cand_a[:, 0] = True
    past = torch.randn(b, h, d)
    literal = replay_correlation(k_v, logits, imp_a, cand_v, cand_a, past)
    fast = replay_correlation_fast(k_v, q_a, imp_a, cand_v, cand_a, past)
    torch.testing.assert_close(literal, fast)


def test_same_summary_gives_half():
    keys, q_audio, _, imp_a, cand_v, cand_a, _ = _example()
    same = query_summary(q_audio, imp_a, cand_a)  # past summary equal to the current one
    p = replay_correlation_fast(keys, q_audio, imp_a, cand_v, cand_a, same)
    torch.testing.assert_close(p, torch.tensor([[0.5, 0.5, 0.5, 0.0]]))
