"""Semantic segmentation through the mask head: one mask per ``<mask>``, each for the class it follows."""

from __future__ import annotations

import pytest
import torch
from tests.model.test_generate import forced_tokens

from crabplus.model import mask_loss


@pytest.mark.integration
def test_every_mask_gets_its_class_target(tiny_modular, media) -> None:
    """Answer '<event>a</event><mask><event>b</event><mask>' over a map with classes 3 and 5: the first
    <mask> learns class 3's pixels, the second class 5's; the loss equals mask_loss on those two by hand."""
    model, m = tiny_modular, media(1)
    answer = "<answer><event>a</event><mask><event>b</event><mask></answer>"
    enc = model.tokenize(["Segment <image>"], [answer])
    classes = torch.zeros(1, 32, 32, dtype=torch.long)
    classes[0, :8] = 5
    classes[0, 20:, 4:10] = 3
    with torch.no_grad():
        out = model(**enc, image=m["image"], mask=classes)
        plain = model(**enc, image=m["image"])
    starts = (enc["input_ids"][0] == model.mask_token_id).nonzero().flatten()
    pos = starts + model.media_token_counts["image"] - 1  # the <image> placeholder before them expanded
    _, encoded = model.encode_media(image=m["image"])
    feats = model.media.mask_features(encoded["image"], 0)
    with torch.no_grad():
        logits = model.mask_head(out.hidden_states[0, pos], feats.expand(2, -1, -1), (32, 32))
    targets = torch.stack([classes[0] == 3, classes[0] == 5])
    cfg = model.config
    by_hand = mask_loss(logits, targets, cfg.mask_bce_weight, cfg.mask_dice_weight)
    torch.testing.assert_close(out.mask_loss, by_hand)
    torch.testing.assert_close(out.loss, plain.loss + cfg.mask_loss_weight * by_hand)


@pytest.mark.integration
def test_generation_returns_one_map_per_mask(tiny_modular, media) -> None:
    model, m = tiny_modular, media(1)
    tok = model.tokenizer
    answer = "<answer><event>dog</event><mask><event>man</event><mask></answer>"
    script = tok(answer, add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
    with forced_tokens(model, script):
        texts, masks = model.generate_with_masks(["Segment <image>"], image=m["image"], max_new_tokens=30)
    assert texts[0].replace(" ", "") == answer.replace(" ", "")
    enc = model.tokenize(["Segment <image>"], [answer])
    with torch.no_grad():
        out = model(**enc, image=m["image"])
    starts = (enc["input_ids"][0] == model.mask_token_id).nonzero().flatten()
    pos = starts + model.media_token_counts["image"] - 1
    _, encoded = model.encode_media(image=m["image"])
    feats = model.media.mask_features(encoded["image"], 0)
    with torch.no_grad():
        expected = model.mask_head(out.hidden_states[0, pos], feats.expand(2, -1, -1), (32, 32)).sigmoid()
    assert masks[0].shape == (2, 32, 32)
    torch.testing.assert_close(masks[0], expected, atol=1e-5, rtol=1e-4)
