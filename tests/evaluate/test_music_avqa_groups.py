"""MUSIC-AVQA: the official evaluation's group accuracies (Audio / Visual / Audio-Visual, pooled over the
group's questions) and per-question-type accuracies come out of the task metric and into eval-all's table."""

from __future__ import annotations

import pytest

from crabplus import tasks
from crabplus.evaluate.table import RunResult, markdown_table, table_rows
from crabplus.evaluate.trivial import score_trivial

pytestmark = pytest.mark.unit

# (type as the converter writes the official ["Audio", "Counting"] list, gold answer, predicted answer)
ROWS = [
    ("Audio/Counting", "two", "two"),
    ("Audio/Counting", "three", "two"),
    ("Audio/Comparative", "yes", "yes"),
    ("Visual/Location", "left", "right"),
    ("Visual/Counting", "one", "one"),
    ("Audio-Visual/Existential", "yes", "yes"),
    ("Audio-Visual/Temporal", "piano", "violin"),
    ("Audio-Visual/Temporal", "violin", "violin"),
    ("Audio-Visual/Counting", "two", "yes"),
]
# by hand: Audio 2/3 (counting 1/2, comparative 1/1); Visual 1/2 (location 0/1, counting 1/1);
# Audio-Visual 2/4 (existential 1/1, temporal 1/2, counting 0/1); overall 5/9.
EXPECTED = {
    "accuracy": 5 / 9,
    "accuracy/audio": 2 / 3,
    "accuracy/audio/counting": 1 / 2,
    "accuracy/audio/comparative": 1.0,
    "accuracy/visual": 1 / 2,
    "accuracy/visual/location": 0.0,
    "accuracy/visual/counting": 1.0,
    "accuracy/audio-visual": 2 / 4,
    "accuracy/audio-visual/existential": 1.0,
    "accuracy/audio-visual/temporal": 1 / 2,
    "accuracy/audio-visual/counting": 0.0,
}


def _scores() -> tuple[dict[str, float], dict[str, float]]:
    task = tasks.get("music_avqa")
    targets = [{"answer": gold, "type": kind} for kind, gold, _ in ROWS]
    metric = task.make_metric()
    metric.update([task.parse(f"<answer>{pred}</answer>") for _, _, pred in ROWS], targets)
    return metric.compute(), score_trivial(task, targets)


def test_group_and_type_accuracies_match_the_hand_count() -> None:
    scores, _ = _scores()
    assert scores == pytest.approx(EXPECTED)


def test_group_accuracies_appear_in_the_eval_all_table() -> None:
    scores, trivial = _scores()
    # majority answer "two" (2 of 9): audio counting 1/2 right, AV counting 1/1
    assert trivial["accuracy/audio"] == pytest.approx(1 / 3) and trivial["accuracy/audio-visual"] == 0.25
    run = RunResult("crab", "r1", 100, {"music_avqa": scores}, {}, {"music_avqa": trivial})
    _, rows = table_rows([run])
    by_metric = {row[1]: row for row in rows}
    for group in ("audio", "visual", "audio-visual"):
        task, metric, higher, value, base = by_metric[f"accuracy/{group}"]
        assert (task, higher) == ("music_avqa", True)
        assert value == pytest.approx(EXPECTED[f"accuracy/{group}"]) and base == trivial[f"accuracy/{group}"]
    text = markdown_table([run])
    assert "| music_avqa | accuracy/audio | ↑ | 0.6667 | 0.3333 |" in text
    assert "| music_avqa | accuracy/audio-visual/temporal | ↑ | 0.5000 |" in text
