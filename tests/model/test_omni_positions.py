"""M-RoPE positions of the spliced omni sequence vs the thinker's own ``get_rope_index`` on native ids."""

from __future__ import annotations

import pytest
import torch

from crabplus.model import build_avllm


@pytest.mark.integration
def test_mrope_positions_match_thinker(media) -> None:
    model = build_avllm("tiny-omni", audio_pool=1).eval()
    thinker = model.language_model
    cfg = thinker.config
    # transformers 5.23's thinker config lacks the field its own get_rope_index reads; Qwen's id is 151652
    if not hasattr(cfg, "vision_start_token_id"):
        cfg.vision_start_token_id = 151652
    m = media(2)
    enc = model.tokenize(["Look <video> and <audio> then", "Hear <audio> it"], padding_side="left")
    with torch.no_grad():
        sp, pos, encoded = model.prepare_inputs(
            enc["input_ids"], enc["attention_mask"], video=m["video"], audio=m["audio"]
        )
    # native sequence: the token before a media block is its start token, the block holds media token ids
    native = sp.input_ids.clone()
    starts = {1: cfg.vision_start_token_id, 2: cfg.audio_start_token_id}
    ids = {1: cfg.video_token_id, 2: cfg.audio_token_id}
    for kind in (1, 2):
        block = sp.modality_ids == kind
        native[block] = ids[kind]
        before = block[:, 1:] & ~block[:, :-1]  # (B, L'-1) first token of each block at j + 1
        native[:, :-1][before] = starts[kind]
    t, h, w = encoded["video"].grid
    merge = thinker.config.vision_config.spatial_merge_size
    video_grid = torch.tensor([[t, h * merge, w * merge]])  # only sample 0 has a video
    seconds = model.media.temporal * model.config.clip_seconds / model.config.num_frames
    expected, _ = thinker.get_rope_index(
        native,
        video_grid_thw=video_grid,
        attention_mask=sp.attention_mask,
        audio_seqlens=torch.tensor([model.config.mel_frames] * 2),
        second_per_grids=torch.tensor([seconds]),
    )
    real = sp.attention_mask.bool()
    assert torch.equal(pos[:, real], expected[:, real])
