"""Segmentation route 2 (Crab+): the answer carries a box and points; a promptable segmenter draws the mask.

Crab+ writes the object's box and three points and hands them to SAM2. Here box and
points are normalised to [0, 1] (0.01 grid) like every box of the grammar. From a ground-truth mask of
size H × W:

* box = the tight bounding box of the foreground on pixel edges:
  ``[c_min / W, r_min / H, (c_max + 1) / W, (r_max + 1) / H]``;
* points = the centres ``((c + ½) / W, (r + ½) / H)`` of the foreground pixels at ¼, ½ and ¾ of the
  raster order (deterministic, always inside the mask);
* an empty mask has no box and no points (the answer is the label alone).

``Segmenter`` is the pluggable protocol (``segment(image, box, points) -> (H, W) bool``);
``BoxFillSegmenter`` is the stand-in used in tests and offline runs: it fills the box.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import torch

from crabplus.answer import BOX_DECIMALS, Box, Part, Point, is_unparseable

__all__ = ["Segmenter", "BoxFillSegmenter", "box_prompt_parts", "box_prompt_view", "masks_from_box_prompts"]


def _r(v: float) -> float:
    return round(float(v), BOX_DECIMALS)


def box_prompt_view(mask: torch.Tensor) -> dict:
    """``{"box": [x1, y1, x2, y2] | None, "points": [[x, y], ...]}`` of a mask (module docstring)."""
    m = torch.as_tensor(mask).bool().squeeze()
    h, w = m.shape
    rows, cols = torch.nonzero(m, as_tuple=True)
    if rows.numel() == 0:
        return {"box": None, "points": []}
    box = [_r(cols.min() / w), _r(rows.min() / h), _r((cols.max() + 1) / w), _r((rows.max() + 1) / h)]
    n = rows.numel()
    picks = [min(n - 1, (n * k) // 4) for k in (1, 2, 3)]
    points = [[_r((cols[i] + 0.5) / w), _r((rows[i] + 0.5) / h)] for i in picks]
    return {"box": box, "points": points}


def box_prompt_parts(mask: torch.Tensor) -> list[Part]:
    """Answer parts (box then points) of a mask; none for an empty mask."""
    view = box_prompt_view(mask)
    if view["box"] is None:
        return []
    return [Box(*view["box"]), *(Point(x, y) for x, y in view["points"])]


@runtime_checkable
class Segmenter(Protocol):
    """A promptable segmenter (e.g. SAM2): box and points in normalised coordinates → bool mask."""

    def segment(
        self, image: torch.Tensor | None, box: list[float] | None, points: list[list[float]]
    ) -> torch.Tensor:  # (H, W) bool
        ...


class BoxFillSegmenter:
    """Stand-in segmenter: the mask is the pixels whose centre lies inside the box (points ignored).

    Args:
        size: ``(H, W)`` of the output when no image is given (with an image ``(3, H, W)``, its size).
    """

    def __init__(self, size: tuple[int, int] | None = None) -> None:
        self.size = size

    def segment(
        self, image: torch.Tensor | None, box: list[float] | None, points: list[list[float]]
    ) -> torch.Tensor:
        if image is not None:
            h, w = image.shape[-2:]
        elif self.size is not None:
            h, w = self.size
        else:
            raise ValueError("BoxFillSegmenter needs an image or a size")
        if box is None:
            return torch.zeros(h, w, dtype=torch.bool)
        ys = (torch.arange(h, dtype=torch.float64) + 0.5) / h  # (H,)
        xs = (torch.arange(w, dtype=torch.float64) + 0.5) / w  # (W,)
        inside_y = (ys >= box[1]) & (ys <= box[3])
        inside_x = (xs >= box[0]) & (xs <= box[2])
        return inside_y[:, None] & inside_x[None, :]  # (H, W)


def masks_from_box_prompts(
    predictions: list[dict], images: list[torch.Tensor | None], segmenter: Segmenter
) -> list[dict]:
    """Add ``"mask"`` to every parseable box-prompt prediction (unparseable ones are left as they are)."""
    out = []
    for pred, image in zip(predictions, images):
        if is_unparseable(pred):
            out.append(pred)
            continue
        mask = segmenter.segment(image, pred.get("box"), pred.get("points", []))
        out.append({**pred, "mask": mask})
    return out
