"""Segmentation route 2: box + points from a mask, parsing them back, and the box-filling stand-in."""

from __future__ import annotations

import pytest
import torch

from crabplus.tasks.families import BoxFillSegmenter, SegmentationTask, Segmenter, masks_from_box_prompts
from crabplus.tasks.families.box_prompt import box_prompt_view

pytestmark = pytest.mark.unit


def _mask() -> torch.Tensor:
    m = torch.zeros(4, 4, dtype=torch.bool)
    m[1:3, 1:4] = True  # rows 1-2, columns 1-3
    return m


def test_box_and_points_hand_worked() -> None:
    # box on pixel edges: [1/4, 1/4, 4/4, 3/4]; 6 foreground pixels in raster order, picks 6·k//4 = 1, 3, 4
    # -> (r, c) = (1, 2), (2, 1), (2, 2); centres ((c + .5)/4, (r + .5)/4), rounded half-even to 0.01
    view = box_prompt_view(_mask())
    assert view == {"box": [0.25, 0.25, 1.0, 0.75], "points": [[0.62, 0.38], [0.38, 0.62], [0.62, 0.62]]}
    assert box_prompt_view(torch.zeros(3, 3, dtype=torch.bool)) == {"box": None, "points": []}


def test_route_round_trip_and_box_fill() -> None:
    task = SegmentationTask(name="seg_box", instruction="Segment the sounding object.", route="box_points")
    target = {"label": "dog", "mask": _mask()}
    text = task.format_target(target)
    assert text == ("<answer>dog <box>0.25,0.25,1.00,0.75</box><point>0.62,0.38</point>"
                    "<point>0.38,0.62</point><point>0.62,0.62</point></answer>")  # fmt: skip
    parsed = task.parse(text)
    assert parsed == task.text_view(target)
    segmenter = BoxFillSegmenter(size=(4, 4))
    assert isinstance(segmenter, Segmenter)
    junk = task.parse("nothing")
    filled = masks_from_box_prompts([parsed, junk], [None, None], segmenter)
    assert (
        torch.equal(filled[0]["mask"], _mask()) and filled[1] is junk
    )  # the box covers the rectangle exactly
    metric = task.make_metric()
    metric.update(filled, [target, target])
    assert metric.compute()["j"] == pytest.approx(0.5)  # 1 and 0 (unparseable)


def test_box_fill_uses_image_size() -> None:
    mask = BoxFillSegmenter().segment(torch.zeros(3, 2, 4), [0.0, 0.0, 0.5, 1.0], [])
    assert mask.tolist() == [[True, True, False, False]] * 2
