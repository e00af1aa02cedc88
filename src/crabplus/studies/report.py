"""Mean ± std over seeds, and one stated rule for when a difference between two methods is noise.

The studies run each method with a few seeds (3 by default); with so few, a difference of means is
called *within noise* when it is at most two standard errors of that difference,
SE = sqrt(s_a² / n_a + s_b² / n_b) with s the sample standard deviations. The rule is printed with every
generated table, so a reader knows what "within noise" means there.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence

__all__ = ["NOISE_RULE", "compare", "mean_std", "plus_minus"]

NOISE_RULE = (
    "A difference is called within noise when |Δ| ≤ 2·SE, SE = sqrt(s_a²/n_a + s_b²/n_b) "
    "(s: standard deviation over seeds, n: seeds)."
)


def mean_std(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for a single value)."""
    if not values:
        raise ValueError("mean_std needs at least one value")
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def plus_minus(values: Sequence[float], digits: int = 3) -> str:
    """``"mean ± std"`` with ``digits`` decimals."""
    mean, std = mean_std(values)
    return f"{mean:.{digits}f} ± {std:.{digits}f}"


def compare(a: Sequence[float], b: Sequence[float], digits: int = 3) -> tuple[float, str]:
    """Difference of means a − b and its verdict: ``"+0.011, within noise"`` or ``"+0.050, 3.1 SE"``."""
    (mean_a, std_a), (mean_b, std_b) = mean_std(a), mean_std(b)
    delta = mean_a - mean_b
    se = math.sqrt(std_a**2 / len(a) + std_b**2 / len(b))
    if abs(delta) <= 2 * se:
        return delta, f"{delta:+.{digits}f}, within noise"
    return delta, f"{delta:+.{digits}f}, {abs(delta) / se:.1f} SE" if se > 0 else f"{delta:+.{digits}f}"
