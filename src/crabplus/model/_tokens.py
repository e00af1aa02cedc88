"""Placeholder and answer-grammar tokens, and the shipped tiny tokenizer.

Why here: the model owns the vocabulary. Placeholders (``<video>``, ``<audio>``, ``<image>``) are
*special* tokens so a prompt can never produce them by accident, and ``<mask>`` is special because
its hidden state feeds the mask head. Grammar tokens (``<answer>``, ``<span>``...) are *added, not
special*: ``decode(skip_special_tokens=True)`` keeps them, so task parsers see ``<answer>…</answer>``.
"""

from __future__ import annotations

from importlib import resources

from transformers import AutoTokenizer, PreTrainedTokenizerBase

from crabplus.answer import SPECIAL_TOKENS as ANSWER_GRAMMAR_TOKENS

__all__ = [
    "GRAMMAR_TOKENS",
    "MASK_TOKEN",
    "MODALITY_IDS",
    "PLACEHOLDERS",
    "PLACEHOLDER_TOKENS",
    "OMNI_MEDIA_TOKENS",
    "add_av_tokens",
    "load_tiny_tokenizer",
    "omni_media_ids",
]

#: Placeholder token of each media modality.
PLACEHOLDERS: dict[str, str] = {"video": "<video>", "audio": "<audio>", "image": "<image>"}
MASK_TOKEN = "<mask>"
#: Special tokens added to every tokenizer (placeholders first, then ``<mask>``).
PLACEHOLDER_TOKENS: tuple[str, ...] = (*PLACEHOLDERS.values(), MASK_TOKEN)
#: Answer grammar of ``answer.py`` (its single source); added as normal (non-special) tokens.
GRAMMAR_TOKENS: tuple[str, ...] = tuple(t for t in ANSWER_GRAMMAR_TOKENS if t != MASK_TOKEN)
#: Qwen2.5-Omni's own tokens of a media block, (start, media, end), as its processor lays the block out:
#: the start token, one media token per feature, the end token.
OMNI_MEDIA_TOKENS: dict[str, tuple[str, str, str]] = {
    "video": ("<|vision_bos|>", "<|VIDEO|>", "<|vision_eos|>"),
    "audio": ("<|audio_bos|>", "<|AUDIO|>", "<|audio_eos|>"),
    "image": ("<|vision_bos|>", "<|IMAGE|>", "<|vision_eos|>"),
}
#: Value of ``modality_ids`` per token kind (architecture contract).
MODALITY_IDS: dict[str, int] = {"text": 0, "video": 1, "audio": 2, "image": 3}


def add_av_tokens(tokenizer: PreTrainedTokenizerBase) -> int:
    """Add missing placeholder/grammar tokens and a pad token; returns how many tokens were added.

    Idempotent: the shipped tiny tokenizer already has them all, a Llama/Qwen tokenizer gets them here
    (the caller then resizes the LM embeddings to ``len(tokenizer)``).
    """
    vocab = tokenizer.get_vocab()
    added = 0
    missing_special = [t for t in PLACEHOLDER_TOKENS if t not in vocab]
    if missing_special:
        added += tokenizer.add_special_tokens(
            {"additional_special_tokens": missing_special}, replace_extra_special_tokens=False
        )
    missing_grammar = [t for t in GRAMMAR_TOKENS if t not in vocab]
    if missing_grammar:
        added += tokenizer.add_tokens(missing_grammar)
    if tokenizer.pad_token is None:
        # Llama-2 has no pad token; reusing eos is safe because padding is masked and labels are -100.
        tokenizer.pad_token = tokenizer.eos_token
    return added


def load_tiny_tokenizer() -> PreTrainedTokenizerBase:
    """The byte-level BPE shipped in ``crabplus/assets/tiny_tokenizer`` (built by tools/build_tiny_tokenizer.py)."""
    path = resources.files("crabplus") / "assets" / "tiny_tokenizer"
    with resources.as_file(path) as p:
        return AutoTokenizer.from_pretrained(str(p))


def omni_media_ids(tokenizer: PreTrainedTokenizerBase) -> dict[str, tuple[int, int, int]] | None:
    """The ids of ``OMNI_MEDIA_TOKENS`` in ``tokenizer``, or None when it lacks any (not a Qwen2.5-Omni one)."""
    vocab = tokenizer.get_vocab()
    if any(t not in vocab for block in OMNI_MEDIA_TOKENS.values() for t in block):
        return None
    return {m: tuple(vocab[t] for t in block) for m, block in OMNI_MEDIA_TOKENS.items()}
