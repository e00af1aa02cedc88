"""Build the tiny byte-level BPE tokenizer shipped in ``src/crabplus/assets/tiny_tokenizer``.

Why: the tiny presets must build offline in seconds with a real subword tokenizer (so padding,
special tokens and decoding behave as with a real model). A byte-level BPE trained once on a fixed,
in-file corpus is deterministic; its output is checked in, and this script is how it was made.

Usage: ``python tools/build_tiny_tokenizer.py [--out DIR] [--vocab-size 1024]``
"""

from __future__ import annotations

import argparse
import itertools
from pathlib import Path

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast

from crabplus.model._tokens import GRAMMAR_TOKENS, PLACEHOLDER_TOKENS

DEFAULT_OUT = Path(__file__).resolve().parents[1] / "src" / "crabplus" / "assets" / "tiny_tokenizer"
PAD, BOS, EOS, UNK = "<|pad|>", "<|bos|>", "<|eos|>", "<|unk|>"

_SUBJECTS = [
    "a dog",
    "a cat",
    "the man",
    "a woman",
    "the baby",
    "a car",
    "the train",
    "a guitar",
    "the piano",
    "a violin",
    "the drum",
    "a bird",
    "the crowd",
    "a helicopter",
    "the engine",
]
_VERBS = [
    "is barking",
    "is playing",
    "is speaking",
    "is singing",
    "is crying",
    "is driving past",
    "is laughing",
    "makes a sound",
    "is heard",
    "is visible",
    "appears",
    "stops",
]
_QUESTIONS = [
    "What is the sounding object in the video?",
    "Which event happens in the audio?",
    "When does the event start and end?",
    "Where is the sounding object?",
    "Is the sound from the left?",
    "How many instruments are playing?",
    "Describe the video and the audio.",
    "Segment the sounding object.",
    "Answer with the option letter.",
    "Options: A. yes B. no C. maybe D. none.",
    "Localise the event in seconds.",
    "Give the bounding box of the speaker.",
    "This is a video:",
    "This is an audio:",
    "This is an image:",
    "Think step by step, then answer.",
]


def corpus() -> list[str]:
    """A fixed, ordered list of sentences covering prompts, answers and numbers."""
    lines = list(_QUESTIONS)
    for subj, verb in itertools.product(_SUBJECTS, _VERBS):
        lines.append(f"{subj.capitalize()} {verb} in the video while {subj} {verb} in the audio.")
    for i in range(0, 1000, 7):
        x = i / 1000
        lines.append(f"{i} {x:.2f},{1 - x:.2f} {i % 60}.{i % 10} seconds, box {x:.2f},{x / 2:.2f},{x:.3f}")
    lines.append("yes no A B C D E the answer is unknown, unparseable. 0 1 2 3 4 5 6 7 8 9")
    return lines


def build(vocab_size: int = 1024) -> PreTrainedTokenizerFast:
    """Train the BPE and wrap it with the crabplus placeholder and grammar tokens."""
    tok = Tokenizer(models.BPE(unk_token=None))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[PAD, BOS, EOS, UNK],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(corpus() * 3, trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        pad_token=PAD,
        bos_token=BOS,
        eos_token=EOS,
        unk_token=UNK,
        additional_special_tokens=list(PLACEHOLDER_TOKENS),
    )
    fast.add_tokens(list(GRAMMAR_TOKENS))
    return fast


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--vocab-size", type=int, default=1024)
    args = parser.parse_args()
    tok = build(args.vocab_size)
    tok.save_pretrained(args.out)
    print(f"saved {len(tok)} tokens to {args.out}")


if __name__ == "__main__":
    main()
