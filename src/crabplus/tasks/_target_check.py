"""Targets checked against their own sample before they are written or trained on.

A span of 3.0–12.5 s on a 4-s clip, a box reaching x = 1.3 or a label outside the task's label set
trains and scores the model on something the sample does not show. The shard writer and the reader both
call :func:`checked_target`; what fails is skipped and counted as ``bad_target`` with its shard and key,
or clipped into range when the task declares ``clip_targets``.

Ranges: spans (``segments`` ``[[s, e]]``, ``events`` ``[[label, s, e]]``, parsing's ``audio`` / ``visual``)
lie in ``[0, duration]`` with ``s <= e`` (``duration`` is part of the target); boxes ``[x1, y1, x2, y2]``
lie in ``[0, 1]`` with ``x1 <= x2``, ``y1 <= y2``; labels (``label``, ``labels``, event labels) belong to
``task.label_set`` when the task has one. Masks are checked where their pixels are (``data.sample``).
"""

from __future__ import annotations

import math
from typing import Any

from crabplus.tasks._base import Task
from crabplus.tasks.families._parts import label

__all__ = ["BadTarget", "checked_target", "BAD_TARGET"]

BAD_TARGET = "bad_target"  # the skip reason the data pipeline counts
EPS = 1e-6  # float noise of times and coordinates written as text


class BadTarget(ValueError):
    """A target outside its sample's range; ``str(err)`` says which field and value."""


def checked_target(task: Task, target: dict[str, Any]) -> dict[str, Any]:
    """``target`` if it is in range, clipped into range when ``task.clip_targets``; else :class:`BadTarget`."""
    out = dict(target)
    clip = bool(getattr(task, "clip_targets", False))
    if "duration" in out:
        duration = _number(out["duration"], "duration")
        if not duration > 0:
            raise BadTarget(f"duration {out['duration']!r} is not positive")
        if "segments" in out:
            out["segments"] = _spans(out["segments"], duration, clip, "segments", with_label=False)
        for key in ("events", "audio", "visual"):
            if key in out:
                out[key] = _spans(out[key], duration, clip, key, with_label=True)
    if out.get("box") is not None:
        out["box"] = _box(out["box"], clip)
    label_set = tuple(getattr(task, "label_set", ()) or ())
    if label_set:
        _labels(out, label_set)
    return out


def _number(value: Any, where: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise BadTarget(f"{where}: {value!r} is not a number") from None
    if not math.isfinite(number):
        raise BadTarget(f"{where}: {value!r} is not finite")
    return number


def _spans(items: Any, duration: float, clip: bool, key: str, with_label: bool) -> list:
    out = []
    for i, item in enumerate(items):
        head, (s, e) = (list(item[:1]), item[1:3]) if with_label else ([], item[:2])
        s, e = _number(s, f"{key}[{i}] start"), _number(e, f"{key}[{i}] end")
        inside = -EPS <= s <= e <= duration + EPS
        if not inside and not clip:
            raise BadTarget(
                f"{key}[{i}] = [{s:g}, {e:g}] s is outside the clip [0, {duration:g}] s (or reversed)"
            )
        if not inside:
            s, e = min(max(s, 0.0), duration), min(max(e, 0.0), duration)
            if e <= s:
                raise BadTarget(f"{key}[{i}] = {list(item)} has nothing inside the clip [0, {duration:g}] s")
        out.append([*head, s, e])
    return out


def _box(box: Any, clip: bool) -> list[float]:
    if len(box) != 4:
        raise BadTarget(f"box {box!r} does not have 4 coordinates")
    x1, y1, x2, y2 = (_number(v, "box") for v in box)
    inside = all(-EPS <= v <= 1 + EPS for v in (x1, y1, x2, y2)) and x1 <= x2 and y1 <= y2
    if inside:
        return [x1, y1, x2, y2]
    if not clip:
        raise BadTarget(f"box {[x1, y1, x2, y2]} is outside [0, 1] (or reversed)")
    x1, y1, x2, y2 = (min(max(v, 0.0), 1.0) for v in (x1, y1, x2, y2))
    if x2 <= x1 or y2 <= y1:
        raise BadTarget(f"box {list(box)} has nothing inside [0, 1]")
    return [x1, y1, x2, y2]


def _labels(target: dict[str, Any], label_set: tuple[str, ...]) -> None:
    known = {label(x).lower() for x in label_set}  # whitespace-normalised, case-insensitive
    found = [target["label"]] if "label" in target else []
    found += list(target.get("labels", []))
    found += [ev[0] for key in ("events", "audio", "visual") for ev in target.get(key, [])]
    unknown = sorted({str(x) for x in found if label(x).lower() not in known})
    if unknown:
        raise BadTarget(f"label(s) {unknown} not in the task's label set ({len(label_set)} labels)")
