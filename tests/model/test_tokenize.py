"""``AVLLM.tokenize`` and the shipped tokenizer's special/grammar tokens."""

from __future__ import annotations

import pytest

from crabplus.model import GRAMMAR_TOKENS, PLACEHOLDERS
from crabplus.model._tokens import MASK_TOKEN, load_tiny_tokenizer


@pytest.mark.unit
def test_shipped_tokenizer_tokens() -> None:
    tok = load_tiny_tokenizer()
    special = set(tok.all_special_tokens)
    assert {*PLACEHOLDERS.values(), MASK_TOKEN} <= special
    assert not set(GRAMMAR_TOKENS) & special
    for t in (*PLACEHOLDERS.values(), MASK_TOKEN, *GRAMMAR_TOKENS):
        assert tok(t, add_special_tokens=False)["input_ids"] == [tok.convert_tokens_to_ids(t)], t
    text = "<answer><event>dog barking</event><span>1.00,2.50</span></answer>"
    ids = tok("<video>" + text + "<mask>", add_special_tokens=False)["input_ids"]
    assert tok.decode(ids, skip_special_tokens=True) == text


@pytest.mark.unit
@pytest.mark.parametrize("side", ["left", "right"])
def test_tokenize_labels_and_padding(tiny_modular, side: str) -> None:
    tok = tiny_modular.tokenizer
    prompts, answers = ["<video> What is it?", "Hi"], ["<answer>dog</answer>", "yes"]
    enc = tiny_modular.tokenize(prompts, answers, padding_side=side)
    for b in range(2):
        p = [tok.bos_token_id] + tok(prompts[b], add_special_tokens=False)["input_ids"]
        a = tok(answers[b], add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
        n = len(p) + len(a)
        L = enc["input_ids"].shape[1]
        real = slice(L - n, L) if side == "left" else slice(0, n)
        assert enc["input_ids"][b, real].tolist() == p + a
        assert enc["labels"][b, real].tolist() == [-100] * len(p) + a
        assert enc["attention_mask"][b].sum() == n
        assert enc["attention_mask"][b, real].all()
        assert (enc["labels"][b][enc["attention_mask"][b] == 0] == -100).all()
    assert enc["input_ids"][1, -1 if side == "right" else 0] == tok.pad_token_id
