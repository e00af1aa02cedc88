"""Captioning: BLEU-4, ROUGE-L and CIDEr-D.

Text is normalised before scoring (lower case, punctuation removed, whitespace-split), standing in for the
COCO PTB tokenizer (which needs Java). BLEU-4 is corpus BLEU (torchmetrics ``bleu_score``, uniform weights,
brevity penalty, no smoothing); ROUGE-L is the mean over samples of the LCS F-measure (torchmetrics
``rouge_score``). An unparseable prediction is scored as the empty caption.

CIDEr-D (Vedantam et al. 2015), written here because torchmetrics lacks it. It matches ``CiderScorer`` of
the COCO caption evaluation (pycocoevalcap's ``cider/cider_scorer.py``, reported there as "CIDEr" but with
the CIDEr-D clipping and σ = 6 length penalty), given the same tokens; no module of pycocoevalcap is
called ``ciderD``.
For n = 1…4, every caption becomes a vector over n-grams with weight ``tf(g) · (log N − log max(1, df(g)))``,
N = number of samples, ``df(g)`` = number of samples whose references contain g (document frequency is taken
over the references of the whole evaluated corpus, so the score is corpus-level). Per reference,
``sim_n = Σ_g min(h_g, r_g)·r_g / (‖h‖·‖r‖)`` (0 if a norm is 0: the clipping is the "-D" part), times the
length penalty ``exp(−(len_h − len_r)² / (2·6²))``; a sample's score is ``10 · mean_n sim_n`` averaged over
its references; CIDEr-D is the mean over samples. Lengths are word counts (pycocoevalcap counts bigrams,
which differs only for empty captions). With a single sample every weight is log 1 − log 1 = 0, so CIDEr-D
is 0 by construction.
"""

from __future__ import annotations

import math
import re
from collections import Counter

from torchmetrics import Metric
from torchmetrics.functional.text import bleu_score, rouge_score

from crabplus.answer import is_unparseable
from crabplus.metrics._strings import add_string_state, append_strings, read_strings

__all__ = ["tokenize", "cider_d", "CaptionScores"]

_SEP = "\x1f"  # joins several references of one sample inside the string state
_PUNCT = re.compile(r"[^\w\s]")


def tokenize(text: str) -> list[str]:
    """Lower-case, drop punctuation, split on whitespace."""
    return _PUNCT.sub(" ", text.lower()).split()


def _ngrams(words: list[str], n_max: int = 4) -> Counter:
    return Counter(tuple(words[i : i + n]) for n in range(1, n_max + 1) for i in range(len(words) - n + 1))


def _vector(counts: Counter, df: Counter, log_n: float) -> tuple[list[dict], list[float]]:
    vec: list[dict] = [{} for _ in range(4)]
    for gram, tf in counts.items():
        vec[len(gram) - 1][gram] = tf * (log_n - math.log(max(1.0, df[gram])))
    norms = [math.sqrt(sum(v * v for v in part.values())) for part in vec]
    return vec, norms


def _sim(h: tuple, r: tuple, len_h: int, len_r: int, sigma: float = 6.0) -> float:
    (vh, nh), (vr, nr) = h, r
    total = 0.0
    for n in range(4):
        val = sum(min(w, vr[n].get(g, 0.0)) * vr[n].get(g, 0.0) for g, w in vh[n].items())
        if nh[n] != 0 and nr[n] != 0:
            val /= nh[n] * nr[n]
        total += val * math.exp(-((len_h - len_r) ** 2) / (2 * sigma**2))
    return total / 4


def cider_d(predictions: list[str], references: list[list[str]]) -> float:
    """Corpus CIDEr-D of predicted captions against lists of references (module docstring)."""
    if not predictions:
        return float("nan")
    refs_tok = [[tokenize(r) for r in refs] for refs in references]
    df: Counter = Counter()
    for refs in refs_tok:
        df.update(set().union(*(_ngrams(r) for r in refs)))
    log_n = math.log(len(predictions))
    scores = []
    for pred, refs in zip(predictions, refs_tok):
        words = tokenize(pred)
        h = _vector(_ngrams(words), df, log_n)
        sims = [_sim(h, _vector(_ngrams(r), df, log_n), len(words), len(r)) for r in refs]
        scores.append(10.0 * sum(sims) / len(sims) if sims else 0.0)
    return sum(scores) / len(scores)


class CaptionScores(Metric):
    """BLEU-4, ROUGE-L and CIDEr-D of ``{"text"}`` predictions (targets: ``text`` str or list of str)."""

    full_state_update = False
    higher_is_better = True

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        add_string_state(self, "pred")
        add_string_state(self, "refs")

    def update(self, predictions: list[dict], targets: list[dict]) -> None:
        """Record one batch of captions."""
        preds = ["" if is_unparseable(p) else str(p.get("text", "")) for p in predictions]
        refs = [t["text"] if isinstance(t["text"], str) else _SEP.join(t["text"]) for t in targets]
        append_strings(self, "pred", preds)
        append_strings(self, "refs", refs)

    def compute(self) -> dict[str, float]:
        """``{"bleu4", "rougeL", "cider"}``."""
        preds = [" ".join(tokenize(p)) for p in read_strings(self, "pred")]
        refs = [[" ".join(tokenize(r)) for r in joined.split(_SEP)] for joined in read_strings(self, "refs")]
        if not preds:
            return {"bleu4": float("nan"), "rougeL": float("nan"), "cider": float("nan")}
        rouge = rouge_score(preds, refs, rouge_keys="rougeL", accumulate="best")["rougeL_fmeasure"]
        return {
            "bleu4": float(bleu_score(preds, refs, n_gram=4)),
            "rougeL": float(rouge),
            "cider": cider_d(preds, refs),
        }
