"""Length groups: run the LM on rows of similar length so that short rows do not pay for the longest one.

Notation: B batch, L' spliced length, d LM width, G groups.

Why: a multitask batch mixes one-word answers with 60-token event lists, and every row is padded to the
longest. Packing several samples into one row would need a block-diagonal mask, whose attention cost grows
with the packed row's length squared on kernels without variable-length support (CPU SDPA): measured, it
saves nothing when no two samples fit in the longest one. Instead the rows are sorted by length and split
into at most ``max_groups`` contiguous groups, each trimmed to its own longest row and run as its own LM
call. With right padding and a causal LM a real token never sees the trimmed columns, so its hidden state
is that of the whole-batch call (within float rounding); padding positions get zeros.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

__all__ = ["length_groups", "grouped_hidden"]

#: the cost of one more LM call, in padded tokens (Python and kernel-launch overhead of a small model)
CALL_COST_TOKENS = 48


def length_groups(lengths: list[int], max_groups: int, call_cost: int = CALL_COST_TOKENS) -> list[list[int]]:
    """Row indices per group (each sorted by length, groups shortest first) minimising padded tokens +
    ``call_cost`` per extra group; deterministic (ties keep the row order)."""
    order = sorted(range(len(lengths)), key=lambda i: (lengths[i], i))
    n = len(order)
    sorted_len = [lengths[i] for i in order]
    # best[g][j]: cost of the first j sorted rows in g groups; cut[g][j]: where its last group starts
    inf = float("inf")
    best = [[inf] * (n + 1) for _ in range(max_groups + 1)]
    cut = [[0] * (n + 1) for _ in range(max_groups + 1)]
    best[0][0] = 0.0
    for g in range(1, max_groups + 1):
        for j in range(1, n + 1):
            for i in range(j):
                cost = best[g - 1][i] + (j - i) * sorted_len[j - 1] + (call_cost if g > 1 else 0)
                if cost < best[g][j]:
                    best[g][j], cut[g][j] = cost, i
    groups_used = min(range(1, max_groups + 1), key=lambda g: (best[g][n], g))
    bounds, j = [], n
    for g in range(groups_used, 0, -1):
        i = cut[g][j]
        bounds.append((i, j))
        j = i
    return [order[i:j] for i, j in reversed(bounds) if j > i]


def grouped_hidden(
    run: Callable[[torch.Tensor, int], torch.Tensor],
    attention_mask: torch.Tensor,
    max_groups: int,
) -> torch.Tensor:
    """Last hidden states (B, L', d) from one ``run(rows, length)`` call per length group.

    Args:
        run: ``run(rows, length)`` -> (len(rows), length, d): the LM on those rows, trimmed to ``length``
            columns (the caller slices embeddings, masks, positions and routing inputs the same way).
        attention_mask: (B, L') right-padded mask (every row's real tokens come first).
        max_groups: at most this many LM calls.
    """
    lengths = attention_mask.sum(1)  # (B,)
    columns = torch.arange(attention_mask.shape[1], device=attention_mask.device)
    if not bool((attention_mask.bool() == (columns[None] < lengths[:, None])).all()):
        raise ValueError("length groups need right padding (every row's real tokens first)")
    groups = length_groups(lengths.tolist(), max_groups)
    hidden = None
    for rows in groups:
        length = int(lengths[rows].max())
        index = torch.tensor(rows, device=attention_mask.device)
        part = run(index, length)  # (b, length, d)
        if hidden is None:
            hidden = part.new_zeros(attention_mask.shape[0], attention_mask.shape[1], part.shape[-1])
        hidden = hidden.index_put((index[:, None], columns[None, :length]), part)
    return hidden
