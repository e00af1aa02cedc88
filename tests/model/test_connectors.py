"""Connector pooling by hand, Q-Former shapes, and the omni patch layout vs the Qwen2-VL processor."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from crabplus.model import QFormerConnector
from crabplus.model._config import CLIP_MEAN, CLIP_STD
from crabplus.model._connectors import pool_tokens
from crabplus.model._media import normalise
from crabplus.model._omni import to_qwen_patches


@pytest.mark.unit
def test_pool_tokens_2d_by_hand() -> None:
    x = torch.arange(16.0).view(1, 16, 1)  # 4×4 grid, row-major values 0..15
    out = pool_tokens(x, 4, spatial=True).flatten().tolist()
    assert out == [(0 + 1 + 4 + 5) / 4, (2 + 3 + 6 + 7) / 4, (8 + 9 + 12 + 13) / 4, (10 + 11 + 14 + 15) / 4]
    assert pool_tokens(x, 2, spatial=False).flatten().tolist() == [3.5, 11.5]


@pytest.mark.unit
def test_qformer_shapes_and_group_independence() -> None:
    conn = QFormerConnector(enc_dim=6, lm_dim=10, tokens_per_group=3, dim=8, layers=2, heads=2).eval()
    x = torch.randn(2, 4, 5, 6)
    out = conn(x)
    assert out.shape == (2, 12, 10)
    x2 = x.clone()
    x2[:, 1] += 1.0  # changing group 1 only changes its 3 output tokens
    out2 = conn(x2)
    torch.testing.assert_close(out2[:, :3], out[:, :3])
    assert not torch.allclose(out2[:, 3:6], out[:, 3:6])


@pytest.mark.unit
def test_qwen_patches_match_hf_processor() -> None:
    pytest.importorskip("PIL")
    from transformers import Qwen2VLImageProcessor

    img = (np.random.default_rng(0).random((32, 32, 3)) * 255).astype(np.uint8)
    proc = Qwen2VLImageProcessor(do_resize=False, patch_size=8, temporal_patch_size=2, merge_size=2)
    expected = proc(images=[img], return_tensors="pt")["pixel_values"]  # (16, 3·2·8·8)
    frame = normalise(torch.from_numpy(img).permute(2, 0, 1).float() / 255, CLIP_MEAN, CLIP_STD)
    ours = to_qwen_patches(frame[None, None].expand(1, 2, -1, -1, -1), patch=8, temporal=2, merge=2)
    torch.testing.assert_close(ours, expected.float(), atol=1e-4, rtol=1e-4)
