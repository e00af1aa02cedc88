"""CIDEr-D against a hand-worked corpus and a slow reference; BLEU-4/ROUGE-L wiring."""

from __future__ import annotations

import math
import random
from collections import Counter

import pytest

from crabplus.metrics import CaptionScores, cider_d

pytestmark = pytest.mark.unit


def test_cider_hand_worked() -> None:
    # N = 2, every reference n-gram has df = 1 -> weight tf · (log 2 - log 1) = log 2 (call it w)
    # sample 1 "a b" vs "a b": unigram cos = 2w²/(√2w·√2w) = 1, bigram 1, 3-/4-grams 0 -> 10 · 2/4 = 5
    # sample 2 "c e" vs "c d": unigram: c matches (w·w), e (df 0, weight w) has ref weight 0
    #   -> w² / (√2w · √2w) = 1/2; bigram 0 -> 10 · 0.5/4 = 1.25;   CIDEr-D = (5 + 1.25) / 2
    assert cider_d(["a b", "c e"], [["a b"], ["c d"]]) == pytest.approx(3.125)
    assert cider_d(["a b"], [["a b"]]) == 0.0  # one sample: every idf is log 1 - log 1 = 0


def _grams(s: str, n: int) -> Counter:
    w = s.lower().split()
    return Counter(tuple(w[i : i + n]) for i in range(len(w) - n + 1))


def _vec(s: str, n: int, refs: list[list[str]]) -> dict:
    log_n = math.log(len(refs))
    df = lambda g: sum(any(_grams(x, n)[g] for x in rr) for rr in refs)  # noqa: E731
    return {g: c * (log_n - math.log(max(1, df(g)))) for g, c in _grams(s, n).items()}


def _reference(preds, refs) -> float:
    """CIDEr-D straight from the definition, one n-gram order and one reference at a time."""
    total = 0.0
    for p, rs in zip(preds, refs):
        score = 0.0
        for r in rs:
            for n in range(1, 5):
                vp, vr = _vec(p, n, refs), _vec(r, n, refs)
                num = sum(min(v, vr.get(g, 0)) * vr.get(g, 0) for g, v in vp.items())
                npn, nrn = (
                    math.sqrt(sum(v * v for v in vp.values())),
                    math.sqrt(sum(v * v for v in vr.values())),
                )
                sim = num / (npn * nrn) if npn and nrn else num
                score += sim * math.exp(-((len(p.split()) - len(r.split())) ** 2) / 72) / 4
        total += 10 * score / len(rs)
    return total / len(preds)


def test_cider_matches_reference() -> None:
    r = random.Random(0)
    words = "a dog barks the man plays violin in park".split()
    sent = lambda: " ".join(r.choice(words) for _ in range(r.randint(3, 8)))  # noqa: E731
    preds = [sent() for _ in range(8)]
    refs = [[sent() for _ in range(r.randint(1, 2))] for _ in range(8)]
    assert cider_d(preds, refs) == pytest.approx(_reference(preds, refs))


def test_caption_scores() -> None:
    metric = CaptionScores()
    targets = [{"text": "A dog barks in the park."}, {"text": ["a man plays the violin", "violin music"]}]
    metric.update(
        [{"text": "a dog barks in the park"}, {"unparseable": True, "text": "", "reason": ""}], targets
    )
    out = metric.compute()
    # ROUGE-L: sample 1 identical after normalisation (1.0), sample 2 empty (0) -> 0.5
    assert out["rougeL"] == pytest.approx(0.5)
    assert 0 < out["bleu4"] < 1 and out["cider"] > 0
