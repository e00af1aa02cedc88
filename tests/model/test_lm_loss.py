"""``causal_lm_loss``: token-mean (HF convention) and sample-mean reductions against naive loops."""

from __future__ import annotations

import math

import pytest
import torch

from crabplus.model._avllm import causal_lm_loss
from crabplus.model._splice import IGNORE_INDEX


def naive_token_losses(logits: torch.Tensor, labels: torch.Tensor) -> list[list[float]]:
    """Per sample, the -log p of each answer token (label at t+1 predicted from logits at t)."""
    out = []
    for b in range(logits.shape[0]):
        row = []
        for t in range(logits.shape[1] - 1):
            y = int(labels[b, t + 1])
            if y != IGNORE_INDEX:
                row.append(-float(torch.log_softmax(logits[b, t].double(), -1)[y]))
        out.append(row)
    return out


@pytest.mark.unit
def test_reductions_match_naive_loops() -> None:
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(3, 6, 5, generator=g)
    labels = torch.full((3, 6), IGNORE_INDEX)
    labels[0, 5] = 2  # one answer token
    labels[1, 1:6] = torch.tensor([0, 1, 2, 3, 4])  # five answer tokens
    # sample 2 has no answer token: it counts for neither reduction
    per_sample = naive_token_losses(logits, labels)
    flat = [x for row in per_sample for x in row]
    token = causal_lm_loss(logits, labels, "token")
    sample = causal_lm_loss(logits, labels, "sample")
    assert math.isclose(float(token), sum(flat) / len(flat), rel_tol=1e-5)
    means = [sum(row) / len(row) for row in per_sample if row]
    assert math.isclose(float(sample), sum(means) / len(means), rel_tol=1e-5)
    # the one-token sample weighs 1/2 under "sample" but 1/6 under "token"
    assert not math.isclose(float(token), float(sample), rel_tol=1e-3)


@pytest.mark.unit
def test_hand_worked_uniform_logits() -> None:
    """Uniform logits over V=4: every token costs log 4 whatever the reduction."""
    logits = torch.zeros(2, 3, 4)
    labels = torch.tensor([[IGNORE_INDEX, 1, 2], [IGNORE_INDEX, IGNORE_INDEX, 3]])
    for reduction in ("token", "sample"):
        assert math.isclose(float(causal_lm_loss(logits, labels, reduction)), math.log(4), rel_tol=1e-6)


@pytest.mark.unit
def test_no_answer_tokens_keeps_graph_and_bad_reduction_names_choices() -> None:
    logits = torch.randn(1, 3, 4, requires_grad=True)
    loss = causal_lm_loss(logits, torch.full((1, 3), IGNORE_INDEX), "sample")
    loss.backward()
    assert float(loss.detach()) == 0.0 and logits.grad is not None
    with pytest.raises(ValueError, match="token, sample"):
        causal_lm_loss(logits, torch.full((1, 3), IGNORE_INDEX), "mean")
