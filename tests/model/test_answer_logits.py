"""``forward(logits="answers")``: the LM head at answer positions only gives the loss and gradients of the
full-logits path (``causal_lm_loss`` over every position), for both reductions and both paradigms."""

from __future__ import annotations

import math

import pytest
import torch

from crabplus.model import build_avllm
from crabplus.model._avllm import answer_token_loss
from crabplus.model._splice import IGNORE_INDEX

PROMPTS = ["<video><audio> what is heard?", "<video><audio> where is the dog now?", "<video><audio> count"]
ANSWERS = ["a dog barks", "left", "two cats and one dog sit on the mat"]


def loss_and_grads(model, media, mode: str) -> tuple[float, dict[str, torch.Tensor], torch.Tensor | None]:
    model.zero_grad(set_to_none=True)
    out = model(**model.tokenize(PROMPTS, ANSWERS), **media, logits=mode)
    out.loss.backward()
    grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    return float(out.loss.detach()), grads, out.token_loss


@pytest.mark.unit
@pytest.mark.parametrize("preset", ["tiny-modular", "tiny-omni"])
@pytest.mark.parametrize("reduction", ["token", "sample"])
def test_answer_logits_give_the_full_path_loss_and_gradients(preset, reduction, media) -> None:
    model = build_avllm(preset, loss_reduction=reduction).eval()  # eval: no dropout draws to tell apart
    for p in model.parameters():
        p.requires_grad_(True)
    m = media(3)
    inputs = {"video": m["video"], "audio": m["audio"]}
    full_loss, full_grads, none = loss_and_grads(model, inputs, "all")
    loss, grads, token_loss = loss_and_grads(model, inputs, "answers")
    assert none is None and token_loss is not None
    assert math.isclose(loss, full_loss, rel_tol=1e-5)
    assert grads.keys() == full_grads.keys() and len(grads) > 10
    for name, grad in full_grads.items():
        assert torch.allclose(grads[name], grad, atol=1e-5, rtol=1e-4), name


@pytest.mark.unit
def test_token_loss_against_a_hand_computed_softmax() -> None:
    """V = 3, identity head: the hidden state is the logits. Answer tokens at t = 1, 2 (labels shifted)."""
    hidden = torch.tensor([[[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 2.0, 0.0], [5.0, 5.0, 5.0]]])  # (1, 4, 3)
    labels = torch.tensor([[IGNORE_INDEX, IGNORE_INDEX, 0, 1]])
    head = torch.nn.Identity()
    loss, token_loss = answer_token_loss(hidden, labels, head, "token")
    first = -math.log(math.e / (math.e + 2))  # logits (1, 0, 0), label 0
    second = -math.log(math.e**2 / (math.e**2 + 2))  # logits (0, 2, 0), label 1
    assert token_loss.shape == (1, 3)
    assert torch.allclose(token_loss, torch.tensor([[0.0, first, second]]), atol=1e-6)
    assert math.isclose(float(loss), (first + second) / 2, rel_tol=1e-6)


@pytest.mark.unit
def test_no_answer_token_keeps_the_graph() -> None:
    hidden = torch.randn(2, 3, 4, requires_grad=True)
    loss, token_loss = answer_token_loss(
        hidden, torch.full((2, 3), IGNORE_INDEX), torch.nn.Linear(4, 5), "sample"
    )
    loss.backward()
    assert float(loss) == 0.0 and hidden.grad is not None and not token_loss.any()
