"""AVVP (LLP) audio-visual video parsing: segment-level and event-level F1.

Protocol (AVVP-ECCV20 ``eval_metrics.py``, copied as Crab's ``utils/avvp_eval_metrics.py``),
per video, with 1-s segments from seconds by the midpoint rule of ``metrics.temporal``:

* per modality m ∈ {audio, visual, audio-visual} a class × segment binary matrix; audio-visual = audio AND
  visual (an event both heard and seen in the same segment), for predictions and ground truth alike;
* segment level: per class ``TP, FP, FN`` over segments; event level: a class's events are its maximal runs
  of active segments; a predicted event is a TP if its IoU (over segments, half-open runs) with *some*
  ground-truth event of the class is ≥ 0.5 (not one-to-one: the reference code does not remove matched
  events), else an FP; a ground-truth event with no predicted event at IoU ≥ 0.5 is an FN;
* per class ``F = 2TP / (2TP + FP + FN)``, averaged over the classes with ``TP+FP+FN > 0``; a video with no
  such class scores 1.0 (all true negatives);
* ``Event@AV`` pools audio and visual counts per class (``TP_a + TP_v`` …) before the same averaging;
* dataset score = mean over videos; ``Type@AV`` = mean of the audio, visual and audio-visual scores.

Classes are the label strings present in the video, which is equivalent to the 25-class matrices (absent
classes have no counts). An unparseable prediction scores 0 on all ten numbers for its video (instead of
being read as "no events", which would earn 1.0 on a silent modality).
"""

from __future__ import annotations

import torch
from torchmetrics import Metric

from crabplus.answer import is_unparseable
from crabplus.metrics._strings import label_key
from crabplus.metrics.temporal import num_segments, segment_mask

__all__ = ["AVVPScores", "AVVP_KEYS", "avvp_video_scores", "runs"]

AVVP_KEYS = (
    "seg_audio", "seg_visual", "seg_av", "seg_type_av", "seg_event_av",
    "evt_audio", "evt_visual", "evt_av", "evt_type_av", "evt_event_av",
)  # fmt: skip

Matrix = dict[str, list[bool]]  # class -> per-segment activity


def _matrix(events: list, n: int) -> Matrix:
    out: Matrix = {}
    for label, s, e in events:
        row = out.setdefault(label_key(label), [False] * n)
        out[label_key(label)] = [a or b for a, b in zip(row, segment_mask([[s, e]], n))]
    return out


def runs(row: list[bool]) -> list[tuple[int, int]]:
    """Maximal runs of active segments as half-open ``(start, end)`` index pairs."""
    out, start = [], None
    for t, on in enumerate(list(row) + [False]):
        if on and start is None:
            start = t
        elif not on and start is not None:
            out.append((start, t))
            start = None
    return out


def _iou(a: tuple[int, int], b: tuple[int, int]) -> float:
    return (min(a[1], b[1]) - max(a[0], b[0])) / (max(a[1], b[1]) - min(a[0], b[0]))


def _segment_counts(p: list[bool], g: list[bool]) -> tuple[int, int, int]:
    tp = sum(a and b for a, b in zip(p, g))
    return tp, sum(p) - tp, sum(g) - tp


def _event_counts(p: list[bool], g: list[bool]) -> tuple[int, int, int]:
    pe, ge = runs(p), runs(g)
    tp = sum(any(_iou(x, y) >= 0.5 for y in ge) for x in pe)
    fn = sum(not any(_iou(y, x) >= 0.5 for x in pe) for y in ge)
    return tp, len(pe) - tp, fn


def _mean_f(counts: list[tuple[int, int, int]]) -> float:
    scores = [2 * tp / (2 * tp + fp + fn) for tp, fp, fn in counts if tp + fp + fn > 0]
    return sum(scores) / len(scores) if scores else 1.0


def _level_scores(pred: dict[str, Matrix], gold: dict[str, Matrix], n: int, counter) -> list[float]:
    classes = sorted(set().union(*pred.values(), *gold.values()))
    zero = [False] * n
    per = {m: [counter(pred[m].get(c, zero), gold[m].get(c, zero)) for c in classes] for m in pred}
    f_a, f_v, f_av = (_mean_f(per[m]) for m in ("audio", "visual", "av"))
    pooled = [tuple(x + y for x, y in zip(a, v)) for a, v in zip(per["audio"], per["visual"])]
    return [f_a, f_v, f_av, (f_a + f_v + f_av) / 3, _mean_f(pooled)]


def _with_av(audio: Matrix, visual: Matrix) -> dict[str, Matrix]:
    av = {c: [a and v for a, v in zip(audio[c], visual[c])] for c in audio.keys() & visual.keys()}
    return {"audio": audio, "visual": visual, "av": av}


def avvp_video_scores(pred: dict, target: dict) -> list[float]:
    """The ten AVVP numbers (order of ``AVVP_KEYS``) for one video."""
    if is_unparseable(pred):
        return [0.0] * len(AVVP_KEYS)
    n = num_segments(target["duration"])
    gold = _with_av(_matrix(target["audio"], n), _matrix(target["visual"], n))
    guess = _with_av(_matrix(pred.get("audio", []), n), _matrix(pred.get("visual", []), n))
    return _level_scores(guess, gold, n, _segment_counts) + _level_scores(guess, gold, n, _event_counts)


class AVVPScores(Metric):
    """Mean over videos of the AVVP segment- and event-level F1 scores (module docstring)."""

    full_state_update = False
    higher_is_better = True

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        f64 = torch.float64
        self.add_state("score_sum", default=torch.zeros(len(AVVP_KEYS), dtype=f64), dist_reduce_fx="sum")
        self.add_state("count", default=torch.tensor(0.0, dtype=f64), dist_reduce_fx="sum")

    def update(self, predictions: list[dict], targets: list[dict]) -> None:
        """Targets ``{"audio": [[label, s, e], ...], "visual": [...], "duration"}``; predictions alike."""
        for pred, target in zip(predictions, targets):
            self.score_sum += torch.tensor(
                avvp_video_scores(pred, target), dtype=torch.float64, device=self.device
            )
            self.count += 1

    def compute(self) -> dict[str, float]:
        """The ten scores of ``AVVP_KEYS`` (NaN before any update)."""
        n = float(self.count)
        return {k: (float(v) / n if n else float("nan")) for k, v in zip(AVVP_KEYS, self.score_sum)}
