"""The same battery for every registered task: prompt, round trip, fuzzed parser,
ground truth is best, trivial baseline is worse, unparseable is worst, metric state merges like one process."""

from __future__ import annotations

import math
import random

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.tasks.examples import (
    FAMILY_GENERATORS,
    META,
    example_targets,
    ground_truth_predictions,
    random_target,
)

import crabplus.tasks as tasks
from crabplus.answer import SPECIAL_TOKENS

pytestmark = pytest.mark.unit
NAMES = tasks.names()
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _task(name: str):
    return tasks.get(name)


def test_every_family_has_a_generator() -> None:
    assert {type(tasks.get(n)) for n in NAMES} <= set(FAMILY_GENERATORS)


@pytest.mark.parametrize("name", NAMES)
def test_prompt_has_the_placeholders(name: str) -> None:
    task = _task(name)
    prompt = task.build_prompt(META)
    assert all(f"<{m}>" in prompt for m in task.modalities)
    assert not any(t in prompt for t in ("{", "}"))


@pytest.mark.parametrize("name", NAMES)
@given(r=st.randoms(use_true_random=False), reasoning=st.none() | st.sampled_from(["it barks at 2 s", "x"]))
@SETTINGS
def test_round_trip(name: str, r: random.Random, reasoning: str | None) -> None:
    task = _task(name)
    target = random_target(task, r)
    assert task.parse(task.format_target(target, reasoning)) == task.text_view(target)


fragments = st.sampled_from([*SPECIAL_TOKENS, "dog", ",", "0.5", "1", "-2", "nan", " ", "<", "</answer"])


@pytest.mark.parametrize("name", NAMES)
@given(text=st.text(max_size=200) | st.lists(fragments, max_size=25).map("".join), cut=st.integers(0, 400))
@SETTINGS
def test_parser_never_raises(name: str, text: str, cut: int) -> None:
    task = _task(name)
    answer = task.format_target(example_targets(task, 1)[0])
    for candidate in (text, answer[:cut] + text + answer[cut:], answer[:cut]):
        parsed = task.parse(candidate)
        assert isinstance(parsed, dict)
        assert not str(parsed.get("reason", "")).startswith("internal")


def _scores(task, preds, targets) -> dict[str, float]:
    metric = task.make_metric()
    metric.update(preds, targets)
    return metric.compute()


@pytest.mark.parametrize("name", NAMES)
def test_ground_truth_is_best_and_trivial_is_worse(name: str) -> None:
    task = _task(name)
    targets = example_targets(task)
    best = _scores(task, ground_truth_predictions(task, targets), targets)
    trivial = _scores(task, task.trivial_prediction(targets), targets)
    for key, value in best.items():
        higher = task.is_higher_better(key)
        optimum = 1.0 if higher else 0.0
        if getattr(task, "kind", "") == "semantic" and key in ("miou", "f"):
            # AVSBench averages over all classes; a class absent from the split counts 0
            optimum = len(torch.unique(torch.cat([t["mask"].flatten() for t in targets]))) / len(task.classes)
        if key != "cider":  # bounded metrics reach their optimum
            assert value == pytest.approx(optimum), key
        assert (value >= trivial[key]) if higher else (value <= trivial[key]), key
    primary = task.primary_metric
    if task.is_higher_better(primary):
        assert best[primary] > trivial[primary]
    else:
        assert best[primary] < trivial[primary]


@pytest.mark.parametrize("name", NAMES)
def test_unparseable_is_worst(name: str) -> None:
    task = _task(name)
    targets = example_targets(task)
    junk = [task.parse("no answer here") for _ in targets]
    assert all(p.get("unparseable") for p in junk)
    for key, value in _scores(task, junk, targets).items():
        # grounding AUC's floor: every IoU passes t = 0, so the first trapezoid adds 0.05 · (1 + 0) / 2
        worst = 0.025 if key == "auc" else 0.0 if task.is_higher_better(key) else 1.0
        assert value == pytest.approx(worst), key


@pytest.mark.parametrize("name", NAMES)
def test_state_merges_like_one_process(name: str) -> None:
    """Two metric instances (two ranks) merged give the single-instance result."""
    task = _task(name)
    targets = example_targets(task, 12, seed=1)
    gt, trivial = ground_truth_predictions(task, targets), task.trivial_prediction(targets)
    preds = [g if i % 3 else t for i, (g, t) in enumerate(zip(gt, trivial))]
    whole = _scores(task, preds, targets)
    a, b = task.make_metric(), task.make_metric()
    a.update(preds[:5], targets[:5])
    b.update(preds[5:], targets[5:])
    b.merge_state(a)
    merged = b.compute()
    assert merged.keys() == whole.keys()
    for key in whole:
        assert merged[key] == pytest.approx(whole[key], nan_ok=True) or (
            math.isnan(merged[key]) and math.isnan(whole[key])
        )
