"""The LM forward publishes task and per-token modality ids to adapter layers (crabplus.lora context)."""

from __future__ import annotations

import pytest
import torch

from crabplus.lora import current_routing_inputs


@pytest.mark.integration
@pytest.mark.parametrize("preset", ["tiny_modular", "tiny_omni"])
def test_routing_inputs_seen_inside_lm(preset: str, request, media) -> None:
    model = request.getfixturevalue(preset)
    seen = []
    q_proj = next(
        mod
        for name, mod in model.language_model.named_modules()
        if name.endswith("layers.0.self_attn.q_proj") and "audio_tower" not in name and "visual" not in name
    )
    audio_seen = []
    audio_layer = next(m for n, m in model.audio_encoder.named_modules() if n.endswith("layers.0"))
    audio_handle = audio_layer.register_forward_hook(lambda *a: audio_seen.append(current_routing_inputs()))
    handle = q_proj.register_forward_hook(lambda mod, args, out: seen.append(current_routing_inputs()))
    m = media(2)
    enc = model.tokenize(["<video> a", "<audio> b"], ["x", "y"])
    try:
        with torch.no_grad():
            out = model(**enc, video=m["video"], audio=m["audio"], task_ids=torch.tensor([3, 5]))
        model.generate(["<audio> b"], audio=m["audio"][:1], task_ids=torch.tensor([5]), max_new_tokens=2)
    finally:
        handle.remove()
        audio_handle.remove()
    assert audio_seen[0].task_ids.tolist() == [3, 5] and audio_seen[0].modality_ids is None
    assert seen[0].task_ids.tolist() == [3, 5]
    assert torch.equal(seen[0].modality_ids, out.modality_ids)
    assert (
        seen[1].task_ids.tolist() == [5]
        and (seen[1].modality_ids == 2).sum() == model.media_token_counts["audio"]
    )
    assert seen[2].modality_ids.shape == (1, 1) and seen[2].modality_ids.item() == 0  # generated token: text
    assert current_routing_inputs() is None
