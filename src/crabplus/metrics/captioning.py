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

    @staticmethod
    def texts(predictions: list[dict], targets: list[dict]) -> tuple[list[str], list[list[str]]]:
        """Predicted captions and reference lists as ``update`` reads them."""
        preds = ["" if is_unparseable(p) else str(p.get("text", "")) for p in predictions]
        refs = [[t["text"]] if isinstance(t["text"], str) else list(t["text"]) for t in targets]
        return preds, refs

    def resampled(self, predictions: list[dict], targets: list[dict], counts) -> list[dict[str, float]]:
        """The scores of every resample ``counts[b]`` of these items (:func:`resampled_caption_scores`)."""
        return resampled_caption_scores(*self.texts(predictions, targets), counts)

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


def resampled_caption_scores(
    predictions: list[str], references: list[list[str]], counts
) -> list[dict[str, float]]:
    """``CaptionScores`` of the corpus where item i appears ``counts[b, i]`` times, for every row b.

    Why: a bootstrap recomputes the metric on a thousand resamples; recomputing from text costs ~0.4 s per
    resample for 80 captions. Each score decomposes over items given the corpus: ROUGE-L is a per-item mean;
    BLEU-4 sums per-item clipped n-gram matches, n-gram totals and lengths (torchmetrics' formula, closest
    reference length); CIDEr-D's only corpus term is df(g) = Σ_i c_i·[g ∈ refs_i] (N = Σ_i c_i), and with
    idf(g) = log N − log max(1, df(g)) every product and norm of ``_sim`` is linear in idf(g)², so a
    resample is three matrix-vector products. Inputs are the metric's normalised texts.
    """
    import numpy as np

    counts = np.asarray(counts, dtype=np.float64)
    preds = [tokenize(p) for p in predictions]
    refs = [[tokenize(r) for r in rs] for rs in references]
    rouge = np.array([
        float(rouge_score([" ".join(p)], [[" ".join(r) for r in rs]], rouge_keys="rougeL", accumulate="best")
              ["rougeL_fmeasure"])
        for p, rs in zip(preds, refs)
    ])  # fmt: skip
    bleu_stats = _bleu_stats(preds, refs)
    cider_rows = _CiderRows(preds, refs)
    return [
        {
            "bleu4": _bleu(row, *bleu_stats),
            "rougeL": float(row @ rouge / row.sum()),
            "cider": cider_rows.score(row),
        }
        for row in counts
    ]


def _bleu_stats(preds: list[list[str]], refs: list[list[list[str]]]):
    """Per item: clipped n-gram matches (n = 1…4), n-gram totals, prediction length, closest reference length."""
    import numpy as np

    matches, totals = np.zeros((len(preds), 4)), np.zeros((len(preds), 4))
    pred_len, ref_len = np.zeros(len(preds)), np.zeros(len(preds))
    for i, (p, rs) in enumerate(zip(preds, refs)):
        pred_len[i] = len(p)
        diffs = [abs(len(p) - len(r)) for r in rs]
        ref_len[i] = len(rs[diffs.index(min(diffs))]) if rs else 0
        pc, rc = _ngrams(p), Counter()
        for r in rs:
            rc |= _ngrams(r)
        for gram, k in (pc & rc).items():
            matches[i, len(gram) - 1] += k
        for gram, k in pc.items():
            totals[i, len(gram) - 1] += k
    return matches, totals, pred_len, ref_len


def _bleu(row, matches, totals, pred_len, ref_len) -> float:
    """torchmetrics' corpus BLEU-4 (no smoothing) from count-weighted item statistics."""
    import numpy as np

    numerator, denominator = row @ matches, row @ totals
    if numerator.min() == 0.0:
        return 0.0
    c, r = float(row @ pred_len), float(row @ ref_len)
    score = math.exp(float(np.sum(0.25 * np.log(numerator / denominator))))
    return score * (1.0 if c > r else math.exp(1 - r / c))


class _CiderRows:
    """CIDEr-D's sums as rows over the references' n-gram vocabulary: one row per (item, reference, n)."""

    def __init__(self, preds: list[list[str]], refs: list[list[list[str]]]) -> None:
        import numpy as np

        ref_sets = [set().union(*(_ngrams(r) for r in rs)) if rs else set() for rs in refs]
        grams: dict[tuple, int] = {}
        for found in ref_sets:
            for g in sorted(found):
                grams.setdefault(g, len(grams))
        width = max(1, len(grams))
        self.presence = np.zeros((len(preds), width))
        for i, found in enumerate(ref_sets):
            self.presence[i, [grams[g] for g in found]] = 1.0
        rows: list[tuple] = []
        for i, (p, rs) in enumerate(zip(preds, refs)):
            hc = _ngrams(p)
            for r in rs:
                rc = _ngrams(r)
                lp = math.exp(-((len(p) - len(r)) ** 2) / (2 * 6.0**2))
                rows += [(i, lp, *_cider_row(hc, rc, n, grams, width)) for n in range(1, 5)]
        self.owner = np.array([r[0] for r in rows], dtype=np.int64)
        self.penalty = np.array([r[1] for r in rows])
        self.num, self.hh, self.rr = (
            np.array([r[k] for r in rows]).reshape(len(rows), width) for k in (2, 3, 4)
        )
        self.h_outside = np.array([r[5] for r in rows])
        self.refs_per_item = np.array([max(1, len(rs)) for rs in refs], dtype=np.float64)
        self.items = len(preds)

    def score(self, row) -> float:
        import numpy as np

        total = row.sum()
        log_n = math.log(total)
        idf = log_n - np.log(np.maximum(1.0, row @ self.presence))
        w = idf * idf
        sim_num = self.num @ w
        norm_h = np.sqrt(
            self.hh @ w + self.h_outside * log_n * log_n
        )  # n-grams no reference holds: idf log N
        norm_r = np.sqrt(self.rr @ w)
        both = (norm_h != 0) & (norm_r != 0)
        sim = np.where(both, sim_num / np.where(both, norm_h * norm_r, 1.0), sim_num) * self.penalty / 4
        item = np.zeros(self.items)
        np.add.at(item, self.owner, sim)
        return float(row @ (10.0 * item / self.refs_per_item) / total)


def _cider_row(hc: Counter, rc: Counter, n: int, grams: dict, width: int):
    """min(tf_h, tf_r)·tf_r, tf_h² and tf_r² over the vocabulary for n-grams of length n, and Σ tf_h² of the
    prediction's n-grams outside the vocabulary."""
    import numpy as np

    num, hh, rr = np.zeros(width), np.zeros(width), np.zeros(width)
    outside = 0.0
    for g, tf in hc.items():
        if len(g) != n:
            continue
        if g in grams:
            num[grams[g]] += min(tf, rc.get(g, 0)) * rc.get(g, 0)
            hh[grams[g]] += tf * tf
        else:
            outside += tf * tf
    for g, tf in rc.items():
        if len(g) == n:
            rr[grams[g]] += tf * tf
    return num, hh, rr, outside
