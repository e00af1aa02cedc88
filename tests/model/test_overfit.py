"""The tiny presets can overfit one fixed batch: 50 AdamW steps cut the answer loss well below chance."""

from __future__ import annotations

import math
import time

import pytest
import torch

from crabplus.model import build_avllm, set_trainable


@pytest.mark.integration
@pytest.mark.parametrize("preset", ["tiny-modular", "tiny-omni"])
def test_overfit_fixed_batch(preset: str, media) -> None:
    model = build_avllm(preset, seed=0).train()
    set_trainable(model, "full")
    m = media(2)
    enc = model.tokenize(
        ["<video> What is the event? <audio>", "Hear <audio> and answer."],
        ["<answer><event>dog barking</event></answer>", "<answer>no</answer>"],
    )
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    losses, start = [], time.perf_counter()
    for _ in range(50):
        out = model(**enc, video=m["video"], audio=m["audio"], task_ids=torch.tensor([0, 1]))
        opt.zero_grad()
        out.loss.backward()
        opt.step()
        losses.append(out.loss.item())
    elapsed = time.perf_counter() - start
    chance = math.log(len(model.tokenizer))
    assert losses[0] > 0.8 * chance  # random init starts near uniform
    assert losses[-1] < 0.2 * losses[0], losses[::10]
    assert elapsed < 30
