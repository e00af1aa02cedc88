"""Random structured targets per task family (on the answer grids), for the registry battery.

One generator per family class, driven by a ``random.Random`` so hypothesis (``st.randoms``) and plain
seeded examples share it. ``FAMILY_GENERATORS`` must cover every family class in the registry.
"""

from __future__ import annotations

import random

import torch

from crabplus.tasks.families import (
    CaptionTask,
    DenseLocalisationTask,
    EventLocalisationTask,
    GroundingTask,
    QATask,
    RecognitionTask,
    SegmentationTask,
    TaggingTask,
    VideoParsingTask,
)

LABELS = ["dog barking", "Church bell", "man speaking", "car", "violin", "baby crying"]
WORDS = ["a", "dog", "barks", "loudly", "while", "the", "man", "plays", "violin", "in", "park", "rain"]


def _span(r: random.Random, duration: int) -> list[float]:
    s = r.randint(0, duration * 10 - 1)
    e = r.randint(s + 1, duration * 10)
    return [s / 10, e / 10]


def _events(r: random.Random, duration: int, k: int) -> list[list]:
    return [[r.choice(LABELS), *_span(r, duration)] for _ in range(k)]


def _mask(r: random.Random, empty: bool) -> torch.Tensor:
    m = torch.zeros(8, 8, dtype=torch.bool)
    if not empty:
        y1, x1 = r.randint(0, 6), r.randint(0, 6)
        m[y1 : r.randint(y1 + 1, 8), x1 : r.randint(x1 + 1, 8)] = True
    return m


def recognition(task, r, i):
    return {"label": LABELS[i % 3] if i >= 0 else r.choice(LABELS)}


def qa(task, r, i):
    return {
        "answer": r.choice(["yes", "no", "two", "left violin"]),
        "type": r.choice(["count", "Audio-Visual Existential"]),
    }


def caption(task, r, i):
    return {"text": " ".join(r.choice(WORDS) for _ in range(r.randint(4, 9)))}


def localisation(task, r, i):
    duration = r.randint(5, 10)
    s = r.randint(0, duration - 2)
    segments = [[float(s), float(r.randint(s + 1, duration - 1))]] + (
        [_span(r, duration)] if r.random() < 0.3 else []
    )
    return {"label": r.choice(LABELS), "segments": segments, "duration": duration}


def dense(task, r, i):
    return {"events": _events(r, 10, r.randint(1, 3)), "duration": 10}


def parsing(task, r, i):
    return {
        "audio": _events(r, 10, r.randint(0, 2)),
        "visual": _events(r, 10, r.randint(0, 2)),
        "duration": 10,
    }


def tagging(task, r, i):
    k = r.randint(0, 3)
    return {"labels": r.sample(LABELS, k) if i < 0 else [LABELS[i % 4], *r.sample(LABELS, k)]}


def grounding(task, r, i):
    x1, y1 = r.randint(0, 80), r.randint(0, 80)
    box = [x1 / 100, y1 / 100, r.randint(x1 + 5, 100) / 100, r.randint(y1 + 5, 100) / 100]
    return {"label": r.choice(LABELS), "box": box}


def _class_map(r: random.Random, n_classes: int, empty: bool) -> torch.Tensor:
    """An 8×8 class-index map (0 = background) with up to three foreground rectangles."""
    m = torch.zeros(8, 8, dtype=torch.long)
    for _ in range(0 if empty else r.randint(1, 3)):
        y1, x1 = r.randint(0, 6), r.randint(0, 6)
        m[y1 : r.randint(y1 + 1, 8), x1 : r.randint(x1 + 1, 8)] = r.randint(1, n_classes - 1)
    return m


def segmentation(task, r, i):
    target = {"label": r.choice(LABELS)}
    if task.kind == "semantic":
        target["mask"] = _class_map(r, len(task.classes), i >= 0 and i % 4 == 3)
        return target
    if task.kind == "ref":
        target["subset"] = (
            ["seen", "unseen", "null"][i % 3] if i >= 0 else r.choice(["seen", "unseen", "null"])
        )
    empty = target.get("subset") == "null" or (task.kind != "ref" and i >= 0 and i % 4 == 3)
    target["mask"] = _mask(r, empty)
    if task.kind == "binary" and i >= 0:
        target["video"] = f"v{i // 4}"  # 4 frames per video, 3 with an object (AVSBench F: per video)
    return target


FAMILY_GENERATORS = {
    RecognitionTask: recognition,
    QATask: qa,
    CaptionTask: caption,
    EventLocalisationTask: localisation,
    DenseLocalisationTask: dense,
    VideoParsingTask: parsing,
    TaggingTask: tagging,
    GroundingTask: grounding,
    SegmentationTask: segmentation,
}

META = {"question": "How many instruments sound?", "options": ["one", "two"], "expression": "the loud dog",
        "classes": LABELS, "duration": 10.0}  # fmt: skip


def random_target(task, r: random.Random, i: int = -1) -> dict:
    """One target for ``task``; ``i >= 0`` makes batches diverse (labels and subsets cycle with i)."""
    return FAMILY_GENERATORS[type(task)](task, r, i)


def example_targets(task, n: int = 12, seed: int = 0) -> list[dict]:
    """A deterministic, diverse batch of targets."""
    r = random.Random(seed)
    return [random_target(task, r, i) for i in range(n)]


def ground_truth_predictions(task, targets: list[dict]) -> list[dict]:
    """Predictions the model would make if perfect: the parsed answer text (plus the mask from the head)."""
    preds = []
    for t in targets:
        pred = task.parse(task.format_target(t))
        if "mask" in t:
            pred["mask"] = t["mask"]
        preds.append(pred)
    return preds
