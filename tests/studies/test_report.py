"""The studies' table arithmetic against hand-worked values."""

import math

import pytest

from crabplus.studies.report import compare, mean_std, plus_minus

pytestmark = pytest.mark.unit


def test_mean_and_sample_std_by_hand():
    mean, std = mean_std([0.80, 0.90, 1.00])
    assert mean == pytest.approx(0.90)
    assert std == pytest.approx(0.10)  # sqrt(((-.1)² + 0 + .1²) / 2)
    assert mean_std([0.5]) == (0.5, 0.0)
    assert plus_minus([0.80, 0.90, 1.00]) == "0.900 ± 0.100"
    with pytest.raises(ValueError):
        mean_std([])


def test_compare_within_and_beyond_noise():
    # SE = sqrt(.1²/3 + .1²/3) = 0.08165; 2·SE = 0.1633
    delta, text = compare([0.85, 0.95, 1.05], [0.80, 0.90, 1.00])
    assert delta == pytest.approx(0.05) and text == "+0.050, within noise"
    delta, text = compare([1.10, 1.20, 1.30], [0.80, 0.90, 1.00])
    assert delta == pytest.approx(0.30)
    assert text == f"+0.300, {0.30 / math.sqrt(0.02 / 3):.1f} SE"  # 3.7 SE
    assert compare([1.0, 1.0], [0.5, 0.5])[1] == "+0.500"  # no spread at all: no verdict
