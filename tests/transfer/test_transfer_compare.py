"""Relative change, Δm, positive share and worst drop against hand-computed numbers.

Hand computation (Δ = σ·(multi − single)/|single|):
  cls/acc  0.66 vs 0.60, ↑ : +0.06/0.60 = +0.10                         → Δ_cls = +0.10
  loc/miou 0.40 vs 0.50, ↑ : −0.10/0.50 = −0.20 ; loc/f1 0.44 vs 0.40 ↑ : +0.10 → Δ_loc = −0.05
  asr/wer  0.18 vs 0.20, ↓ : −(−0.02)/0.20 = +0.10                      → Δ_asr = +0.10
  cap      no baseline → missing
  Δm = (0.10 − 0.05 + 0.10)/3 = 0.05 ; positive share = 2/3 ; worst drop = −0.05 (loc)
"""

import math

import pytest

from crabplus.transfer import compare, compare_seeds, summarize

pytestmark = pytest.mark.unit

MULTI = {"cls": {"acc": 0.66}, "loc": {"miou": 0.40, "f1": 0.44}, "asr": {"wer": 0.18}, "cap": {"cider": 0.3}}
SINGLE = {"cls": {"acc": 0.60}, "loc": {"miou": 0.50, "f1": 0.40}, "asr": {"wer": 0.20}}
HIGHER = {"acc": True, "miou": True, "f1": True, "wer": False, "cider": True}


def test_hand_computed_report():
    report = compare(MULTI, SINGLE, HIGHER)
    assert report.relative_change["cls"]["acc"] == pytest.approx(0.10)
    assert report.relative_change["loc"] == pytest.approx({"miou": -0.20, "f1": 0.10})
    assert report.relative_change["asr"]["wer"] == pytest.approx(0.10)  # lower is better, went down: gain
    assert report.task_change == pytest.approx({"cls": 0.10, "loc": -0.05, "asr": 0.10})
    assert report.delta_m == pytest.approx(0.05)
    assert report.positive_share == pytest.approx(2 / 3)
    assert report.worst_drop == pytest.approx(-0.05)
    assert report.worst_task == "loc"


def test_missing_baseline_is_reported_not_counted():
    report = compare(MULTI, SINGLE, HIGHER)
    assert report.missing == ["cap"]
    assert "cap" not in report.relative_change and "cap" not in report.task_change


def test_missing_metric_and_zero_baseline_are_listed():
    report = compare(
        {"t": {"acc": 0.5, "f1": 0.2, "extra": 1.0}},
        {"t": {"acc": 0.0, "f1": 0.1}},
        {"acc": True, "f1": True, "extra": True},
    )
    assert report.missing_metrics == ["t/extra"]
    assert report.undefined == ["t/acc"]
    assert report.relative_change == {"t": {"f1": pytest.approx(1.0)}}


def test_task_metric_key_overrides_metric_key_and_negative_baseline_uses_abs():
    # 'score' higher is better in general, lower for task x; baseline -0.5 → multi -0.25.
    higher = {"score": True, "x/score": False}
    report = compare(
        {"x": {"score": -0.25}, "y": {"score": -0.25}}, {"x": {"score": -0.5}, "y": {"score": -0.5}}, higher
    )
    assert report.relative_change["y"]["score"] == pytest.approx(0.5)  # (−0.25 + 0.5)/|−0.5|
    assert report.relative_change["x"]["score"] == pytest.approx(-0.5)


def test_unknown_direction_names_the_metric():
    with pytest.raises(KeyError, match="t/bleu"):
        compare({"t": {"bleu": 1.0}}, {"t": {"bleu": 2.0}}, {})


def test_no_comparable_task_gives_nan():
    report = compare({"t": {"acc": 1.0}}, {}, {"acc": True})
    assert math.isnan(report.delta_m) and math.isnan(report.positive_share) and report.missing == ["t"]


def test_seeds_mean_and_std():
    # Baselines averaged over two seeds: 0.4 and 0.6 → 0.5. Seeds: 0.55 → +0.10 ; 0.65 → +0.30.
    summary = compare_seeds(
        [{"t": {"acc": 0.55}}, {"t": {"acc": 0.65}}],
        [{"t": {"acc": 0.4}}, {"t": {"acc": 0.6}}],
        {"acc": True},
    )
    assert summary.delta_m.mean == pytest.approx(0.20)
    assert summary.delta_m.std == pytest.approx(math.sqrt(0.02))  # sample std of 0.1, 0.3
    assert summary.delta_m.n == 2
    assert summary.single_task == {"t": {"acc": pytest.approx(0.5)}}
    assert summary.multitask == {"t": {"acc": pytest.approx(0.6)}}


def test_summarize_single_report_has_zero_std():
    summary = summarize([compare(MULTI, SINGLE, HIGHER)])
    assert summary.delta_m.mean == pytest.approx(0.05) and summary.delta_m.std == 0.0
    assert summary.missing == ["cap"]
    assert str(summary.task_change["loc"]) == "-5.00%"
