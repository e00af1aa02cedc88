"""Probabilistic patch selection: exact counts, pruning, sampling probabilities, audio contiguity."""

import pytest
import torch

from crabplus.studies.continual import gumbel_keys, select_audio_chunks, select_topk, select_video

pytestmark = pytest.mark.unit


def test_gumbel_first_pick_probability_matches_weights():
    # Gumbel-top-1 picks j with probability w_j / Σw
    g = torch.Generator().manual_seed(0)
    w = torch.tensor([0.1, 0.2, 0.3, 0.4]).expand(40000, 4)
    first = gumbel_keys(w, g).argmax(-1)
    freq = torch.bincount(first, minlength=4).float() / 40000
    torch.testing.assert_close(freq, torch.tensor([0.1, 0.2, 0.3, 0.4]), atol=0.012, rtol=0)


def test_select_video_keep_probability_with_pruning():
    # K = 1, p = 0.5 on patch 2: P(keep j) = .5·I_j + .5·(I with patch 2 zeroed)_j / .7
    #   = [.121429, .242857, .15, .485714]
    g = torch.Generator().manual_seed(1)
    n = 40000
    imp = torch.tensor([0.1, 0.2, 0.3, 0.4]).expand(n, 4)
    p = torch.tensor([0.0, 0.0, 0.5, 0.0]).expand(n, 4)
    kept = select_video(imp, p, 1, g)[:, 0]
    freq = torch.bincount(kept, minlength=4).float() / n
    expected = torch.tensor(
        [0.5 * 0.1 + 0.5 * 0.1 / 0.7, 0.5 * 0.2 + 0.5 * 0.2 / 0.7, 0.15, 0.5 * 0.4 + 0.5 * 0.4 / 0.7]
    )
    torch.testing.assert_close(freq, expected, atol=0.012, rtol=0)


def test_select_video_exact_k_pruned_never_kept_and_monotone():
    g = torch.Generator().manual_seed(2)
    n, length, k = 5000, 8, 4
    imp = torch.tensor([0.02, 0.04, 0.06, 0.08, 0.1, 0.2, 0.2, 0.3]).expand(n, length)
    p = torch.tensor([0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.6, 0.0]).expand(n, length)
    kept = select_video(imp, p, k, g)
    assert kept.shape == (n, k)
    assert (kept.sort(-1).values == kept).all() and (kept[:, 1:] != kept[:, :-1]).all()
    assert not (kept == 4).any()  # p = 1: always pruned
    rate = torch.zeros(n, length).scatter_(1, kept, 1.0).mean(0)
    assert (rate[:4].diff() > 0).all()  # rises with I (same p)
    assert rate[6] < rate[5]  # same I, higher p -> kept less


def test_select_video_reproducible_with_generator():
    imp, p = torch.rand(3, 16) + 0.01, torch.rand(3, 16) * 0.5
    a = select_video(imp, p, 6, torch.Generator().manual_seed(7))
    b = select_video(imp, p, 6, torch.Generator().manual_seed(7))
    assert torch.equal(a, b)


def test_select_topk_first_step():
    assert select_topk(torch.tensor([[0.1, 0.5, 0.2, 0.4]]), 2).tolist() == [[1, 3]]


def test_audio_chunks_boundary_next_to_walked_neighbour():
    # n_time 8, n_freq 2, W 2 -> 4 chunks of 4 tokens; chunk 2 (tokens 8..11) dominates the order.
    # K = 6: chunk 2 whole, then 2 tokens of the next chunk in the walk: chunk 1 (right neighbour walked)
    # -> its right end {6, 7}; chunk 3 (left neighbour walked) -> its left end {12, 13}; chunk 0 has no
    # walked neighbour -> a coin picks {0, 1} or {2, 3}.
    g = torch.Generator().manual_seed(3)
    n = 1200
    imp = torch.full((n, 16), 1e-6)
    imp[:, 8:12] = 1.0
    kept = select_audio_chunks(imp, torch.zeros(n, 16), 6, 2, 2, g)
    allowed = {(0, 1, 8, 9, 10, 11), (2, 3, 8, 9, 10, 11), (6, 7, 8, 9, 10, 11), (8, 9, 10, 11, 12, 13)}
    seen = {tuple(row) for row in kept.tolist()}
    assert seen == allowed


def test_audio_chunks_whole_chunks_and_pruning():
    g = torch.Generator().manual_seed(4)
    n, n_time, n_freq, w, k = 2000, 8, 2, 2, 8
    imp = torch.rand(n, n_time * n_freq) + 0.01
    kept = select_audio_chunks(imp, torch.zeros_like(imp), k, w, n_freq, g)
    mask = torch.zeros(n, 16).scatter_(1, kept, 1.0).reshape(n, 4, 4)
    assert ((mask.sum(-1) == 0) | (mask.sum(-1) == 4)).all()  # no pruning: whole chunks only
    p = torch.zeros(n, 16)
    p[:, 9] = 1.0
    kept = select_audio_chunks(imp, p, k, w, n_freq, g)
    assert kept.shape == (n, k) and not (kept == 9).any()
    mask = torch.zeros(n, 16).scatter_(1, kept, 1.0).reshape(n, 4, 4)
    partial = ((mask.sum(-1) > 0) & (mask.sum(-1) < 4)).sum(-1)
    assert (partial <= 2).all()


def test_audio_chunks_rate_rises_with_importance():
    g = torch.Generator().manual_seed(5)
    n = 4000
    imp = torch.tensor([1.0] * 4 + [2.0] * 4 + [4.0] * 4 + [8.0] * 4).expand(n, 16)
    kept = select_audio_chunks(imp, torch.zeros(n, 16), 8, 2, 2, g)
    rate = torch.zeros(n, 16).scatter_(1, kept, 1.0).reshape(n, 4, 4).mean((0, 2))
    assert (rate.diff() > 0).all()


def test_audio_chunk_width_must_divide():
    with pytest.raises(ValueError, match="audio_chunk_width"):
        select_audio_chunks(torch.rand(1, 12), torch.zeros(1, 12), 4, 4, 2)
