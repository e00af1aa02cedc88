"""Greedy generation: deterministic, equal to argmax decoding by hand (no cache), mask route."""

from __future__ import annotations

from contextlib import contextmanager

import pytest
import torch

from crabplus.model._generate import greedy_generate


def decode_by_hand(model, prompt: str, steps: int, **media) -> list[int]:
    """Re-run the full forward on prompt + generated tokens each step and take the argmax (no KV cache)."""
    tok = model.tokenizer
    generated: list[int] = []
    for _ in range(steps):
        enc = model.tokenize([prompt])
        ids = torch.cat([enc["input_ids"], torch.tensor([generated], dtype=torch.long)], 1)
        with torch.no_grad():
            out = model(ids, torch.ones_like(ids), **media)
        nxt = int(out.logits[0, -1].argmax())
        generated.append(nxt)
        if nxt == tok.eos_token_id:
            break
    return generated


@contextmanager
def forced_tokens(model, script: list[int]):
    """Make greedy decoding emit ``script`` (then repeat its last id): a logits hook adds 1e4 per LM call."""
    calls = {"n": 0}

    def force(module, args, output):
        i = min(calls["n"], len(script) - 1)
        calls["n"] += 1
        output = output.clone()
        output[:, -1, script[i]] += 1e4
        return output

    handle = model.language_model.get_output_embeddings().register_forward_hook(force)
    try:
        yield
    finally:
        handle.remove()


@pytest.mark.integration
@pytest.mark.parametrize("preset", ["tiny_modular", "tiny_omni"])
def test_greedy_equals_argmax_by_hand(preset: str, request, media) -> None:
    model = request.getfixturevalue(preset)
    m = media(2)
    prompts = ["<video> What is it? <audio>", "Hear <audio>"]
    result = greedy_generate(model, prompts, video=m["video"], audio=m["audio"], max_new_tokens=6)
    for b, prompt in enumerate(prompts):  # sample 1 is left-padded in the batch; the reference is unpadded
        media_b = {"audio": m["audio"][b : b + 1]}
        if "<video>" in prompt:
            media_b["video"] = m["video"][b : b + 1]
        expected = decode_by_hand(model, prompt, 6, **media_b)
        assert result.token_ids[b, : len(expected)].tolist() == expected
    again = model.generate(prompts, video=m["video"], audio=m["audio"], max_new_tokens=6)
    assert again == result.texts


@pytest.mark.integration
@pytest.mark.parametrize("preset", ["tiny_modular", "tiny_omni"])
def test_generate_with_masks(preset: str, request, media) -> None:
    """Force '<answer><mask>' then eos through a logits hook; the mask is the head on the <mask> hidden state."""
    model = request.getfixturevalue(preset)
    tok, m = model.tokenizer, media(1)
    script = [tok.convert_tokens_to_ids("<answer>"), model.mask_token_id, tok.eos_token_id]
    with forced_tokens(model, script):
        texts, masks = model.generate_with_masks(["Segment <image>"], image=m["image"], max_new_tokens=5)
    assert texts == ["<answer><mask>"]  # <mask> is grammar: kept in the text (the parser requires it)
    enc = model.tokenize(["Segment <image>"], ["<answer><mask>"])
    with torch.no_grad():
        out = model(**enc, image=m["image"])
    torch.testing.assert_close(masks[0], out.mask_logits[0].sigmoid(), atol=1e-5, rtol=1e-4)


@pytest.mark.integration
def test_module_predictions_carry_the_head_mask(tiny_modular, media) -> None:
    """AVLLMModule.predict_batch on a segmentation batch: text parses and the parsed dict holds the mask."""
    from crabplus.train import AVLLMModule

    module = AVLLMModule(preset="tiny-modular").eval()
    model, m = module.model, media(2)
    tok = model.tokenizer
    script = tok("<answer>drum <mask></answer>", add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
    batch = {"prompt": ["Segment <image> <audio>"] * 2, "task": ["synth_seg"] * 2, "image": m["image"],
             "audio": m["audio"]}
    with forced_tokens(model, script):
        predictions = module.predict_batch(batch)
    for pred in predictions:
        assert pred["label"] == "drum" and not pred.get("unparseable")
        assert pred["mask"].shape == (32, 32) and 0.0 <= float(pred["mask"].min()) <= float(pred["mask"].max()) <= 1.0


@pytest.mark.integration
@pytest.mark.parametrize("preset", ["tiny_modular", "tiny_omni"])
def test_generation_passes_the_cache_under_its_current_name(preset: str, request, media) -> None:
    """transformers 5 renamed ``past_key_values`` to ``cache``; the old name warned in every process."""
    import logging
    import warnings

    model = request.getfixturevalue(preset)
    m = media(1)
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append
    hf_logger = logging.getLogger("transformers")
    hf_logger.addHandler(handler)
    cache_clear = getattr(logging.Logger.warning_once, "cache_clear", None)  # transformers' once-per-process cache
    if cache_clear is not None:
        cache_clear()
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            greedy_generate(model, ["Hear <audio>"], audio=m["audio"], max_new_tokens=3)
    finally:
        hf_logger.removeHandler(handler)
    messages = [str(w.message) for w in caught] + [r.getMessage() for r in records]
    assert not [text for text in messages if "past_key_values" in text or "deprecated" in text.lower()], messages
