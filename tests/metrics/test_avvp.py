"""AVVP segment/event F1: a hand-worked video and a literal port of the reference evaluation code."""

from __future__ import annotations

import random

import numpy as np
import pytest

from crabplus.metrics import AVVP_KEYS, AVVPScores

pytestmark = pytest.mark.unit


def test_hand_worked_video() -> None:
    target = {"audio": [["dog", 0, 2]], "visual": [["dog", 1, 3], ["car", 2, 4]], "duration": 4}
    pred = {"audio": [["dog", 0, 1], ["car", 3, 4]], "visual": [["dog", 1, 3]]}
    metric = AVVPScores()
    metric.update([pred], [target])
    out = metric.compute()
    # matrices over 4 segments: GT_a dog 1100; GT_v dog 0110, car 0011; GT_av dog 0100
    #                           P_a dog 1000, car 0001; P_v dog 0110; P_av none
    # segment: audio dog F = 2·1/(2·1+0+1) = 2/3, car 0 -> 1/3; visual dog 1, car 0 -> 1/2; av dog 0 -> 0
    #          type = (1/3 + 1/2 + 0)/3 = 5/18; pooled dog TP 3 FP 0 FN 1 -> 6/7, car TP 0 -> 0 -> 3/7
    # event:   audio dog run (0,1) vs (0,2): IoU 1/2 >= 0.5 -> 1, car FP -> 0 -> 1/2; visual dog 1, car FN -> 1/2
    #          av dog FN -> 0; type = 1/3; pooled dog TP 2 -> 1, car FP 1 FN 1 -> 0 -> 1/2
    expected = [1 / 3, 1 / 2, 0, 5 / 18, 3 / 7, 1 / 2, 1 / 2, 0, 1 / 3, 1 / 2]
    assert [out[k] for k in AVVP_KEYS] == pytest.approx(expected)


def test_unparseable_and_silent_videos() -> None:
    metric = AVVPScores()
    empty = {"audio": [], "visual": [], "duration": 10}
    metric.update([{"audio": [], "visual": []}], [empty])  # all true negatives -> 1.0 everywhere
    metric.update([{"unparseable": True, "text": "", "reason": ""}], [empty])  # counted as wrong -> 0
    assert all(v == pytest.approx(0.5) for v in metric.compute().values())


# ---- literal port of AVVP-ECCV20 eval_metrics.py (segment_level / event_level), 10 segments ------------------
def _extract(seq):
    events, i = [], 0
    while i < len(seq):
        if seq[i]:
            start = i
            while i < len(seq) and seq[i]:
                i += 1
            events.append((start, i))
        else:
            i += 1
    return events


def _event_wise(p, g):
    iou = lambda a, b: (min(a[1], b[1]) - max(a[0], b[0])) / (max(a[1], b[1]) - min(a[0], b[0]))  # noqa: E731
    tp = fp = fn = 0
    for x in p:
        if any(iou(x, y) >= 0.5 for y in g):
            tp += 1
        else:
            fp += 1
    for y in g:
        if not any(iou(y, x) >= 0.5 for x in p):
            fn += 1
    return tp, fp, fn


def _f(tp, fp, fn):
    scores = [2 * tp[i] / (2 * tp[i] + fp[i] + fn[i]) for i in range(len(tp)) if tp[i] + fp[i] + fn[i] != 0]
    return 1.0 if not scores else sum(scores) / len(scores)


def _reference(pa, pv, ga, gv):
    pav, gav = pa * pv, ga * gv
    out_seg, out_evt = [], []
    mods = [(pa, ga), (pv, gv), (pav, gav)]
    seg = [(np.sum(p * g, 1), np.sum(p * (1 - g), 1), np.sum((1 - p) * g, 1)) for p, g in mods]
    evt = [tuple(np.array(x) for x in zip(*[_event_wise(_extract(p[c]), _extract(g[c])) for c in range(len(p))]))
           for p, g in mods]  # fmt: skip
    for counts, out in ((seg, out_seg), (evt, out_evt)):
        fa, fv, fav = (_f(*c) for c in counts)
        pooled = _f(*(counts[0][k] + counts[1][k] for k in range(3)))
        out += [fa, fv, fav, (fa + fv + fav) / 3, pooled]
    return out_seg + out_evt


def _random_events(r, classes):
    out = []
    for _ in range(r.randint(0, 3)):
        s = r.randint(0, 9)
        out.append([r.choice(classes), s, r.randint(s + 1, 10)])
    return out


def _matrix(events, classes):
    m = np.zeros((len(classes), 10))
    for label, s, e in events:
        m[classes.index(label), s:e] = 1
    return m


def test_matches_literal_reference_on_random_videos() -> None:
    r = random.Random(0)
    classes = ["dog", "car", "speech", "violin"]
    metric, ref_sum, n = AVVPScores(), np.zeros(10), 40
    for _ in range(n):
        t = {"audio": _random_events(r, classes), "visual": _random_events(r, classes), "duration": 10}
        p = {"audio": _random_events(r, classes), "visual": _random_events(r, classes)}
        metric.update([p], [t])
        ref_sum += _reference(
            *(_matrix(x, classes) for x in (p["audio"], p["visual"], t["audio"], t["visual"]))
        )
    assert [metric.compute()[k] for k in AVVP_KEYS] == pytest.approx(list(ref_sum / n))
