"""Paired bootstrap intervals (crabplus/transfer/_bootstrap.py): a hand-worked case, coverage over simulated
test sets, and the recomputation of every synthetic task's metric on resampled items."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from tests.tasks.examples import example_targets, ground_truth_predictions
from torchmetrics import Metric

from crabplus import tasks
from crabplus.transfer import ItemSide, bootstrap_task, combine_tasks, from_json, resampled_metrics, to_json


class Hits(Metric):
    """Accuracy from sum states: the simplest per-item mean."""

    def __init__(self) -> None:
        super().__init__()
        self.add_state("hits", default=torch.tensor(0.0), dist_reduce_fx="sum")
        self.add_state("total", default=torch.tensor(0.0), dist_reduce_fx="sum")

    def update(self, predictions, targets) -> None:
        for p, t in zip(predictions, targets):
            self.hits += float(p["label"] == t["label"])
            self.total += 1.0

    def compute(self):
        return {"acc": float(self.hits / self.total)}


def side(correct: list[int], source: str) -> ItemSide:
    keys = tuple(f"k{i:04d}" for i in range(len(correct)))
    return ItemSide(
        keys,
        tuple({"label": "x" if c else "y"} for c in correct),
        tuple({"label": "x"} for _ in keys),
        source,
    )


@pytest.mark.unit
def test_two_items_by_hand():
    """Multitask right on item 1 only, the baseline right on both: acc_multi ∈ {1, ½, 0} with probabilities
    ¼, ½, ¼ over resamples of two items, acc_single = 1 always, so Δ ∈ {0, −½, −1}. Point −½; the 2.5 % and
    97.5 % percentiles are −1 and 0; the interval holds 0: inconclusive."""
    found = bootstrap_task("t", [side([1, 0], "m")], [side([1, 1], "s")], Hits, ["acc"], {"acc": True}, 4000)
    interval, draws = found
    assert interval.change.point == pytest.approx(-0.5)
    assert (interval.change.low, interval.change.high) == (-1.0, 0.0)
    assert interval.verdict == "inconclusive" and interval.n_items == 2
    shares = [np.mean(draws == v) for v in (0.0, -0.5, -1.0)]
    assert shares == pytest.approx([0.25, 0.5, 0.25], abs=0.03)


@pytest.mark.unit
def test_verdicts_and_delta_m():
    """A clear gain on one task (40 → 80 of 100 right) and a clear loss on another (80 → 40)."""
    gain = bootstrap_task(
        "g",
        [side([1] * 80 + [0] * 20, "m")],
        [side([1] * 40 + [0] * 60, "s")],
        Hits,
        ["acc"],
        {"acc": True},
        500,
    )
    loss = bootstrap_task(
        "l",
        [side([1] * 40 + [0] * 60, "m")],
        [side([1] * 80 + [0] * 20, "s")],
        Hits,
        ["acc"],
        {"acc": True},
        500,
    )
    assert gain[0].verdict == "positive" and gain[0].change.point == pytest.approx(1.0)
    assert loss[0].verdict == "negative" and loss[0].change.point == pytest.approx(-0.5)
    both = combine_tasks({"g": gain, "l": loss}, 500)
    assert both.delta_m.point == pytest.approx(0.25)
    assert both.delta_m.low < 0.25 < both.delta_m.high
    assert both.positive_share == 0.5 and both.significant_share == 0.5


@pytest.mark.slow
def test_coverage_is_near_95_percent():
    """Items right with probability 0.6 (multitask) and 0.5 (baseline), independently: the true relative
    change is 0.2. Over 100 simulated test sets of 200 items the 95 % interval holds it ≈ 95 % of the time
    (binomial sd of the share: 2.2 points)."""
    rng = np.random.default_rng(0)
    hits = 0
    sims = 100
    for i in range(sims):
        multi = (rng.random(200) < 0.6).astype(int).tolist()
        single = (rng.random(200) < 0.5).astype(int).tolist()
        interval, _ = bootstrap_task(
            f"sim{i}", [side(multi, f"m{i}")], [side(single, f"s{i}")], Hits, ["acc"], {"acc": True}, 300
        )
        hits += interval.change.low <= 0.2 <= interval.change.high
    assert 0.90 <= hits / sims <= 0.99


@pytest.mark.unit
def test_seed_variance_widens_the_interval():
    """Two multitask seeds that disagree (60 % vs 90 % right on the same items) give a wider interval than
    one seed alone: seeds are resampled as well as items."""
    base = side([1] * 50 + [0] * 50, "s")
    one = bootstrap_task("t", [side([1] * 75 + [0] * 25, "a")], [base], Hits, ["acc"], {"acc": True}, 800)[0]
    two = bootstrap_task(
        "t",
        [side([1] * 60 + [0] * 40, "b"), side([1] * 90 + [0] * 10, "c")],
        [base],
        Hits,
        ["acc"],
        {"acc": True},
        800,
    )[0]
    assert one.change.point == pytest.approx(two.change.point) == pytest.approx(0.5)
    assert two.change.high - two.change.low > 1.3 * (one.change.high - one.change.low)
    assert two.n_seeds == (2, 1)


SYNTH = [
    "synth_cls",
    "synth_match",
    "synth_loc",
    "synth_avvp",
    "synth_ground",
    "synth_seg",
    "synth_qa",
    "synth_cap",
]


def noisy_predictions(task, targets):
    """Perfect answers for even items, another item's answer for odd ones (so metrics are not all 1)."""
    perfect = ground_truth_predictions(task, targets)
    return [p if i % 2 == 0 else perfect[(i + 3) % len(perfect)] for i, p in enumerate(perfect)]


@pytest.mark.unit
@pytest.mark.parametrize("name", SYNTH)
def test_resampled_metric_is_the_metric_of_the_resampled_items(name):
    """For every synthetic task (corpus F1, CIDEr and J&F's F included): the metric rebuilt from per-item
    states for a count vector equals the metric updated with those items, repeated, from scratch; items go
    through the store's JSON first."""
    task = tasks.get(name)
    targets = example_targets(task, n=10, seed=1)
    predictions = noisy_predictions(task, targets)
    predictions = [from_json(to_json(p)) for p in predictions]
    targets = [from_json(to_json(t)) for t in targets]
    items = ItemSide(tuple(f"k{i}" for i in range(10)), tuple(predictions), tuple(targets))
    counts = np.array([[1] * 10, [3, 0, 0, 2, 1, 0, 1, 0, 2, 1]])
    rebuilt = resampled_metrics(task.make_metric, items, counts)
    for row, got in zip(counts, rebuilt):
        metric = task.make_metric()
        chosen = [i for i, c in enumerate(row) for _ in range(c)]
        metric.update([predictions[i] for i in chosen], [targets[i] for i in chosen])
        expected = metric.compute()
        assert set(got) == set(expected)
        for key, value in expected.items():
            assert (math.isnan(got[key]) and math.isnan(value)) or got[key] == pytest.approx(
                float(value),
                abs=1e-6,  # float32 metric states
            )


@pytest.mark.unit
def test_json_round_trip_keeps_masks_and_numbers():
    mask = torch.from_numpy(np.random.default_rng(0).random((4, 5)) > 0.5)
    value = {"mask": mask, "box": (0.1, 0.2, 0.3, 0.4), "label": "dog", "n": np.int64(3)}
    back = from_json(to_json(value))
    assert back["box"] == [0.1, 0.2, 0.3, 0.4] and back["label"] == "dog" and back["n"] == 3
    assert back["mask"].dtype == np.bool_ and (back["mask"] == mask.numpy()).all()
    assert to_json(value) == to_json(back)


@pytest.mark.unit
def test_metric_interval_of_one_run_matches_the_normal_approximation():
    """100 items, half right: the bootstrap interval of the accuracy is close to 0.5 ± 1.96·√(0.25/100)."""
    from crabplus.evaluate.table import RunResult, markdown_table
    from crabplus.transfer import metric_interval_table

    table = metric_interval_table(Hits, side([1, 0] * 50, "r"), "t", 2000)
    assert table["acc"].point == 0.5
    assert table["acc"].low == pytest.approx(0.5 - 1.96 * 0.05, abs=0.02)
    assert table["acc"].high == pytest.approx(0.5 + 1.96 * 0.05, abs=0.02)
    result = RunResult(
        "run",
        "id",
        10,
        {"synth_qa": {"accuracy": 0.5}},
        {"synth_qa/accuracy": True},
        {},
        {"synth_qa": {"accuracy": (table["acc"].low, table["acc"].high)}},
    )
    text = markdown_table([result])
    assert f"| 0.5000 [{table['acc'].low:.3f}, {table['acc'].high:.3f}] |" in text
