"""MLB / OGM-GE coefficients against hand-worked numbers."""

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from crabplus.balance import PhaseOut, mlb_coefficient, mlb_coefficients, ogm_coefficients, others_over_self

pytestmark = pytest.mark.unit

# Appendix table: k(r) for r in (0.25, 0.5, 0.8, 1.0, 1.25, 2, 4), and the floor 1 - tanh(alpha).
R = (0.25, 0.5, 0.8, 1.0, 1.25, 2.0, 4.0)
TABLE = {
    (0.5, 10.0): (0.642, 0.755, 0.900, 1.0, 2.119, 5.159, 9.146, 0.538),
    (5.0, 2.0): (0.001, 0.013, 0.238, 1.0, 1.848, 2.000, 2.000, 0.0001),
    (2.0, 1.0): (0.095, 0.238, 0.620, 1.0, 1.0, 1.0, 1.0, 0.036),
    (2.0, 0.5): (0.095, 0.238, 0.620, 1.0, 0.769, 0.518, 0.500, 0.036),
}


def _k_at_ratio(r: float, alpha: float, beta_max: float) -> float:
    # two modalities with s_other / s_self = r: scores (s_self, s_other) = (1, r)
    return float(mlb_coefficients(torch.tensor([1.0, r]), alpha, beta_max)[0])


@pytest.mark.parametrize("alpha,beta_max", list(TABLE))
def test_mlb_matches_appendix_table(alpha, beta_max):
    expected = TABLE[(alpha, beta_max)]
    for r, k in zip(R, expected[:-1]):
        assert _k_at_ratio(r, alpha, beta_max) == pytest.approx(k, abs=6e-4), f"r={r}"
    floor = _k_at_ratio(1e-9, alpha, beta_max)  # dominant modality with s_self >> s_other
    assert floor == pytest.approx(expected[-1], abs=6e-4)


def test_worked_step_accelerates_weak_and_decelerates_dominant():
    # s_a = 0.6, s_v = 0.3, alpha 0.5, beta_max 10: r_a = 0.5, r_v = 2.
    k = mlb_coefficients(torch.tensor([0.6, 0.3]), alpha=0.5, beta_max=10.0)
    assert k[0].item() == pytest.approx(1 + math.tanh(-0.25), abs=1e-6)  # 0.755: decelerate audio
    assert k[0].item() == pytest.approx(0.755, abs=1e-3)
    assert k[1].item() == pytest.approx(1 + 9 * math.tanh(0.5), abs=1e-5)  # 5.159: accelerate video
    assert k[1].item() == pytest.approx(5.159, abs=1e-3)


def test_ogm_worked_values():
    s = torch.tensor([0.6, 0.3])
    k = ogm_coefficients(s, alpha=1.0)
    assert k.tolist() == pytest.approx([1 - math.tanh(2.0), 1.0], abs=1e-6)
    assert k[0].item() == pytest.approx(0.036, abs=1e-3)
    assert ogm_coefficients(s, alpha=0.1)[0].item() == pytest.approx(0.803, abs=1e-3)


def test_ratio_three_modalities():
    r = others_over_self(torch.tensor([0.2, 0.4, 0.6]))
    assert r.tolist() == pytest.approx([0.5 / 0.2, 0.4 / 0.4, 0.3 / 0.6])


def test_implicit_phase_out_as_heads_fit():
    # Same rule, scores rising to 1: k -> 1 from both sides (MLB's own phase-out).
    early = mlb_coefficients(torch.tensor([0.8, 0.4]), 1.0, 2.0)
    late = mlb_coefficients(torch.tensor([0.99, 0.97]), 1.0, 2.0)
    assert early[0] < late[0] < 1.0 < late[1] < early[1]
    # r_v = 0.99/0.97, r_a = 0.97/0.99: hand values 1 + tanh(r - 1)
    assert late.tolist() == pytest.approx([1 + math.tanh(0.97 / 0.99 - 1), 1 + math.tanh(0.99 / 0.97 - 1)],
                                          abs=1e-6)
    assert mlb_coefficients(torch.tensor([0.5, 0.5]), 3.0, 10.0).tolist() == [1.0, 1.0]


def test_phase_out_window_and_ramp_hand_values():
    p = PhaseOut(start_step=2, end_step=10, ramp_steps=4)
    assert [p.strength(t) for t in range(12)] == [0, 0, 1, 1, 1, 1, 1.0, 0.75, 0.5, 0.25, 0, 0]
    k = torch.tensor([0.5, 3.0])
    assert p.apply(k, 7).tolist() == pytest.approx([1 - 0.75 * 0.5, 1 + 0.75 * 2.0])
    assert p.apply(k, 11).tolist() == [1.0, 1.0]
    assert PhaseOut().strength(10**9) == 1.0
    with pytest.raises(ValueError, match="end_step"):
        PhaseOut(start_step=5, end_step=3)


@settings(max_examples=200, deadline=None)
@given(
    st.floats(0.01, 1.0), st.floats(0.01, 1.0), st.floats(0.05, 5.0), st.floats(0.5, 10.0),
)
def test_vector_path_agrees_with_literal_formula(sa, sv, alpha, beta_max):
    k = mlb_coefficients(torch.tensor([sa, sv], dtype=torch.float64), alpha, beta_max)
    assert k[0].item() == pytest.approx(mlb_coefficient(sv / sa, alpha, beta_max), rel=1e-5, abs=1e-6)
    assert k[1].item() == pytest.approx(mlb_coefficient(sa / sv, alpha, beta_max), rel=1e-5, abs=1e-6)
    if beta_max >= 1:  # the dominant side's floor; beta_max < 1 damps the weak side too
        assert 1 - math.tanh(alpha) - 1e-6 <= min(k.tolist())
