"""VALOR-32K (audio-visual captioning, Chen et al. 2023) -> task ``avcap``.

Official layout under ``--src``::

    desc_train.json desc_val.json desc_test.json    (or VALOR-32K-annotations/desc_*.json)
    videos/<video_id>.mp4                           (or <video_id>.mp4 directly under --src)

Each JSON record: ``video_id`` (YouTube id with the clip's start/end, e.g. ``abc_30.000_40.000``),
``desc`` (the audio-visual caption). Target ``{"text": desc}``. Keys replace the dots of ``video_id``
with ``_`` (webdataset keys cannot hold dots); ``meta["video_id"]`` keeps the original. A record with an
empty caption is skipped (``empty caption``); VALOR-32K has one caption per clip, so a clip listed twice
with different captions is a ``duplicate key with conflicting annotation``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from crabplus.data.converters._errors import AnnotationError
from crabplus.data.converters._media import find_media
from crabplus.data.converters._readers import check_split, read_json, require_fields
from crabplus.data.converters._registry import register
from crabplus.data.converters._sample import Sample, Skip

__all__ = ["read_valor32k"]

_SPLITS = ("train", "val", "test")


@register("valor32k", tasks=("avcap",), splits=_SPLITS)
def read_valor32k(src: Path, split: str) -> Iterator[Sample | Skip]:
    """VALOR-32K captions: desc_{train,val,test}.json (video_id, desc) + videos/<video_id>.mp4."""
    check_split(split, _SPLITS, "valor32k")
    name = f"desc_{split}.json"
    sub = src / "VALOR-32K-annotations" / name
    path = sub if sub.is_file() and not (src / name).is_file() else src / name
    records = read_json(path)
    if not isinstance(records, list):
        raise AnnotationError(path, "", f"expected a JSON list of captions, got {type(records).__name__}")
    for i, rec in enumerate(records):
        where = f"record {i}"
        require_fields(rec, ("video_id",), path, where)
        vid = str(rec["video_id"])
        if not str(rec.get("desc") or "").strip():
            yield Skip("avcap", (path, where), "empty caption", f"video {vid!r}")
            continue
        video = find_media([src / "videos" / f"{vid}.mp4", src / f"{vid}.mp4"])
        yield Sample(
            origin=(path, where),
            task="avcap",
            key=vid,
            meta={"video_id": vid},
            target={"text": str(rec["desc"])},
            media={"video": video},
        )
