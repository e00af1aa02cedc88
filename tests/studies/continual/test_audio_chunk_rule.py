"""STELLA's audio chunk rule against an exact enumeration of the released rule (prune masks, orders, coin).

The reference below re-states the released per-sample loop in plain Python: walk the chunks in the drawn
order adding their unpruned tokens; the first chunk that overflows K keeps its remaining budget from the
side of an *adjacent* already-walked chunk (left neighbour only -> left side, right neighbour only ->
right side), from the coin's side when neither or both neighbours were walked; later chunks are dropped.
"""

import itertools
import math

import pytest
import torch

from crabplus.studies.continual import chunk_keep_mask, select_audio_chunks

pytestmark = pytest.mark.unit


def released_rule(pruned: list[bool], order: list[int], coin_left: bool, k: int, per_chunk: int) -> set[int]:
    """Kept token indices for one sample, step by step as the released loop."""
    kept: set[int] = set()
    walked: list[int] = []
    total = 0
    for chunk in order:
        tokens = [chunk * per_chunk + i for i in range(per_chunk) if not pruned[chunk * per_chunk + i]]
        if total + len(tokens) <= k:
            kept.update(tokens)
            total += len(tokens)
            walked.append(chunk)
            continue
        left, right = chunk - 1 in walked, chunk + 1 in walked
        keep_left = left if left != right else coin_left
        budget = k - total
        kept.update(tokens[:budget] if keep_left else tokens[len(tokens) - budget :])
        break
    return kept


def order_probability(order: tuple[int, ...], scores: list[float]) -> float:
    """Sequential draw without replacement ∝ scores (torch.multinomial, replacement=False)."""
    prob, left = 1.0, list(range(len(scores)))
    for c in order:
        prob *= scores[c] / sum(scores[j] for j in left)
        left.remove(c)
    return prob


def enumerate_cases(importance, prune_prob, chunk_width, n_freq):
    """Every (prune mask, order, coin) with its probability."""
    length = len(importance)
    per_chunk = chunk_width * n_freq
    n_chunks = length // per_chunk
    scores = [sum(importance[c * per_chunk : (c + 1) * per_chunk]) / chunk_width for c in range(n_chunks)]
    uncertain = [j for j, p in enumerate(prune_prob) if 0.0 < p < 1.0]
    for bits in itertools.product([False, True], repeat=len(uncertain)):
        pruned = [p >= 1.0 for p in prune_prob]
        for j, b in zip(uncertain, bits):
            pruned[j] = b
        p_mask = math.prod(prune_prob[j] if b else 1 - prune_prob[j] for j, b in zip(uncertain, bits))
        for order in itertools.permutations(range(n_chunks)):
            p_order = order_probability(order, scores)
            for coin_left in (True, False):
                yield pruned, list(order), coin_left, p_mask * p_order * 0.5


CASES = {
    # 3 chunks of 2 tokens (W 2, one frequency bin), K 3: the boundary chunk splits 1/1; a middle
    # boundary after one neighbour is decided by that neighbour, chunk 0 walked first flips a coin...
    "three_chunks": dict(
        importance=[1.0, 2.0, 3.0, 1.0, 0.5, 2.5],
        prune_prob=[0.0, 0.5, 0.0, 0.3, 0.0, 0.0],
        k=3,
        chunk_width=2,
        n_freq=1,
    ),
    # 4 chunks of 2 tokens (W 1, two frequency bins), K 5: order (0, 2, 1) makes chunk 1 the boundary
    # with both neighbours walked (coin); pruning shifts which chunk overflows.
    "four_chunks_both_neighbours": dict(
        importance=[1.0, 1.0, 3.0, 2.0, 1.5, 1.5, 0.5, 2.0],
        prune_prob=[0.0, 0.4, 0.0, 0.0, 0.2, 0.0, 0.0, 0.5],
        k=5,
        chunk_width=1,
        n_freq=2,
    ),
}


def exact_rates(case) -> torch.Tensor:
    rates = torch.zeros(len(case["importance"]), dtype=torch.float64)
    per_chunk = case["chunk_width"] * case["n_freq"]
    for pruned, order, coin, prob in enumerate_cases(
        case["importance"], case["prune_prob"], case["chunk_width"], case["n_freq"]
    ):
        for j in released_rule(pruned, order, coin, case["k"], per_chunk):
            rates[j] += prob
    return rates


def test_reference_hand_worked_cases():
    # chunks {0,1} {2,3} {4,5}; order 1, 0, 2; K 3: chunk 1 whole, chunk 0's right neighbour walked -> right
    assert released_rule([False] * 6, [1, 0, 2], True, 3, 2) == {1, 2, 3}
    # order 1, 2, 0 with K 3: chunk 2's left neighbour walked -> its left token
    assert released_rule([False] * 6, [1, 2, 0], False, 3, 2) == {2, 3, 4}
    # order 0, 2, 1 with K 5: chunk 1 has both neighbours walked -> the coin decides
    assert released_rule([False] * 6, [0, 2, 1], True, 5, 2) == {0, 1, 2, 4, 5}
    assert released_rule([False] * 6, [0, 2, 1], False, 5, 2) == {0, 1, 3, 4, 5}
    # first walked chunk overflows (no neighbour walked) -> the coin decides
    assert released_rule([False] * 6, [1, 0, 2], True, 1, 2) == {2}
    assert released_rule([False] * 6, [1, 0, 2], False, 1, 2) == {3}


@pytest.mark.parametrize("name", sorted(CASES))
def test_keep_mask_matches_enumeration_exactly(name):
    case = CASES[name]
    rows = list(enumerate_cases(case["importance"], case["prune_prob"], case["chunk_width"], case["n_freq"]))
    pruned = torch.tensor([r[0] for r in rows])
    order = torch.tensor([r[1] for r in rows])
    coin = torch.tensor([r[2] for r in rows])
    prob = torch.tensor([r[3] for r in rows], dtype=torch.float64)
    mask = chunk_keep_mask(pruned, order, coin, case["k"], case["chunk_width"], case["n_freq"])
    per_chunk = case["chunk_width"] * case["n_freq"]
    for i, (p, o, c, _) in enumerate(rows):  # every combination, not just on average
        assert set(mask[i].nonzero().flatten().tolist()) == released_rule(p, o, c, case["k"], per_chunk)
    rates = (mask.double() * prob[:, None]).sum(0)
    torch.testing.assert_close(rates, exact_rates(case), atol=1e-12, rtol=0)
    assert prob.sum().item() == pytest.approx(1.0)


@pytest.mark.parametrize("name", sorted(CASES))
def test_sampled_keep_rates_match_enumeration(name):
    # the whole sampler (prune, order, coin from the generator): Monte Carlo within 4.5 standard errors
    case = CASES[name]
    n, length = 60000, len(case["importance"])
    imp = torch.tensor(case["importance"]).expand(n, length)
    p = torch.tensor(case["prune_prob"]).expand(n, length)
    kept = select_audio_chunks(
        imp, p, case["k"], case["chunk_width"], case["n_freq"], torch.Generator().manual_seed(11)
    )
    rate = torch.zeros(n, length).scatter_(1, kept, 1.0).double().mean(0)
    exact = exact_rates(case)
    se = (exact * (1 - exact) / n).sqrt().clamp_min(1e-3)
    assert ((rate - exact).abs() <= 4.5 * se).all(), (rate, exact)


def test_coin_is_fair_and_seeded():
    # one chunk walked first and overflowing on its own: no neighbour walked, pure coin flip per sample
    n = 20000
    imp = torch.tensor([1e-6, 1e-6, 1.0, 1.0, 1e-6, 1e-6]).expand(
        n, 6
    )  # chunk 1 walked first (almost surely)
    kept = select_audio_chunks(imp, torch.zeros(n, 6), 1, 2, 1, torch.Generator().manual_seed(3))
    left_share = (kept[:, 0] == 2).double().mean().item()
    assert abs(left_share - 0.5) < 4.5 * (0.25 / n) ** 0.5
    again = select_audio_chunks(imp, torch.zeros(n, 6), 1, 2, 1, torch.Generator().manual_seed(3))
    assert torch.equal(kept, again)
