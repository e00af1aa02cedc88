"""Mask loss (BCE + Dice) by hand, and the mask route inside ``forward``."""

from __future__ import annotations

import math

import pytest
import torch

from crabplus.model import dice_loss, mask_loss


@pytest.mark.unit
def test_mask_loss_by_hand() -> None:
    """logits [[0, ln 3], [-ln 3, 0]] -> p = [[.5, .75], [.25, .5]]; target [[1, 1], [0, 0]]."""
    logits = torch.tensor([[[0.0, math.log(3)], [-math.log(3), 0.0]]])
    target = torch.tensor([[[True, True], [False, False]]])
    # BCE per pixel: -ln .5, -ln .75, -ln .75, -ln .5  -> mean
    bce = (2 * math.log(2) + 2 * math.log(4 / 3)) / 4
    # Dice: Σp·y = 1.25, Σp = 2, Σy = 2 -> 1 - (2.5 + 1) / (4 + 1)
    dice = 1 - 3.5 / 5
    assert dice_loss(logits, target).item() == pytest.approx(dice, abs=1e-6)
    assert mask_loss(logits, target, 1.0, 0.5).item() == pytest.approx(bce + 0.5 * dice, abs=1e-6)
    assert mask_loss(logits, target, 2.0, 0.0).item() == pytest.approx(2 * bce, abs=1e-6)


@pytest.mark.integration
@pytest.mark.parametrize("preset", ["tiny_modular", "tiny_omni"])
def test_forward_mask_route(preset: str, request, media) -> None:
    """Only samples whose answer holds <mask> get a mask loss; it is added with the configured weight."""
    model = request.getfixturevalue(preset)
    m = media(2)
    enc = model.tokenize(["Segment <image> it", "Segment <image> it"], ["<answer><mask></answer>", "none"])
    target = torch.rand(2, 32, 32) > 0.5
    with torch.no_grad():
        out = model(**enc, image=m["image"], mask=target)
        plain = model(**enc, image=m["image"])
    assert out.mask_present.tolist() == [True, False]
    # hidden state at the <mask> position feeds the head, patch features come from the image
    pos = (enc["input_ids"][0] == model.mask_token_id).nonzero().item()
    pos += model.media_token_counts["image"] - 1  # the <image> placeholder before it expanded
    _, encoded = model.encode_media(image=m["image"])
    feats = model.media.mask_features(encoded["image"], 0)
    with torch.no_grad():
        expected = model.mask_head(out.hidden_states[0, pos][None], feats[:1], (32, 32))
    torch.testing.assert_close(out.mask_logits[:1], expected)
    cfg = model.config
    by_hand = mask_loss(expected, target[:1], cfg.mask_bce_weight, cfg.mask_dice_weight)
    torch.testing.assert_close(out.mask_loss, by_hand)
    torch.testing.assert_close(out.loss, plain.loss + cfg.mask_loss_weight * by_hand)
    assert plain.mask_loss is None
