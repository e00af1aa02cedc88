"""Length groups: the LM run per group of rows of similar length gives the loss and gradients of one call
over the whole padded batch (≤ 1e-5), with fewer padded tokens; the grouping is the cheapest one."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from crabplus.model import build_avllm, length_groups
from crabplus.model._length_groups import CALL_COST_TOKENS

# answers of very different lengths, as in a multitask batch (one word against an event list)
PROMPTS = [
    "<video><audio> what?",
    "<video><audio> list the events",
    "<video><audio> where?",
    "<video><audio> count",
]
ANSWERS = ["dog", " ".join(["dog barks from 0 to 3 ;"] * 6), "left", " ".join(["cat"] * 12)]


def naive_cost(groups: list[list[int]], lengths: list[int]) -> int:
    return sum(len(g) * max(lengths[i] for i in g) for g in groups) + CALL_COST_TOKENS * (len(groups) - 1)


@pytest.mark.unit
def test_grouping_is_the_cheapest_contiguous_split_by_brute_force() -> None:
    lengths = [120, 230, 118, 150, 121, 229, 152, 119]
    for max_groups in (1, 2, 3):
        groups = length_groups(lengths, max_groups)
        assert sorted(i for g in groups for i in g) == list(range(len(lengths)))
        order = sorted(range(len(lengths)), key=lambda i: (lengths[i], i))
        best = min(
            naive_cost([order[a:b] for a, b in zip((0, *cuts), (*cuts, len(order)))], lengths)
            for k in range(max_groups)
            for cuts in itertools.combinations(range(1, len(order)), k)
        )
        assert naive_cost(groups, lengths) == best
    # hand-worked: three groups (the ~120s, the ~150s, the ~230s): 4*121 + 2*152 + 2*230 + 2*48 tokens
    assert sorted(sorted(g) for g in length_groups(lengths, 3)) == [[0, 2, 4, 7], [1, 5], [3, 6]]
    assert naive_cost(length_groups(lengths, 3), lengths) == 4 * 121 + 2 * 152 + 2 * 230 + 2 * 48
    assert length_groups([100, 101, 102], 3) == [[0, 1, 2]]  # not worth another call


@pytest.mark.unit
@pytest.mark.parametrize("preset", ["tiny-modular", "tiny-omni"])
def test_grouped_and_single_calls_give_the_same_loss_and_gradients(preset, media) -> None:
    model = build_avllm(preset, loss_reduction="sample").eval()
    for p in model.parameters():
        p.requires_grad_(True)
    m = media(4)
    tokens = model.tokenize(PROMPTS, ANSWERS)
    results = {}
    for groups in (1, 3):
        model.zero_grad(set_to_none=True)
        out = model(**tokens, video=m["video"], audio=m["audio"], logits="answers", length_groups=groups)
        out.loss.backward()
        grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
        results[groups] = (
            float(out.loss.detach()),
            grads,
            out.token_loss.detach(),
            out.hidden_states.detach(),
            out,
        )
    lengths = results[1][4].attention_mask.sum(1).tolist()
    assert len(length_groups(lengths, 3)) > 1  # the batch really was split
    (loss1, grads1, tl1, h1, out1), (loss3, grads3, tl3, h3, _) = results[1], results[3]
    assert math.isclose(loss1, loss3, rel_tol=1e-5)
    assert torch.allclose(tl1, tl3, atol=1e-5)
    real = out1.attention_mask.bool()
    assert torch.allclose(h1[real], h3[real], atol=1e-5)
    assert grads1.keys() == grads3.keys()
    for name, grad in grads1.items():
        assert torch.allclose(grads3[name], grad, atol=1e-5, rtol=1e-4), name
