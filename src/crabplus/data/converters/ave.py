"""AVE (Audio-Visual Event localisation, Tian et al. ECCV 2018) -> task ``ave``.

Official layout under ``--src`` (the unpacked ``AVE_Dataset/``)::

    Annotations.txt            all videos; header "Category&VideoID&Quality&StartTime&EndTime"
    trainSet.txt valSet.txt testSet.txt
                               the split lists, rows in the same '&'-separated format (header optional)
    AVE/<VideoID>.mp4          the 10-s clips

Each row ``Category&VideoID&Quality&StartTime&EndTime`` (e.g. ``Church bell&RUhOCu3LNXM&good&0&10``)
gives one audio-visual event of a video, on the 1-s grid of a 10-s clip. The files are read as published:
header line or none, BOM, CRLF.

Quirks of the real files, handled as data (each skipped row is counted and listed in ``skipped.jsonl``):

* zero-length spans (``Church bell&VWi2ENBuTbw&good&0&0``): skipped, reason ``zero-length span``;
  reversed or out-of-clip spans likewise (``span reversed or outside the clip``);
* a video annotated twice with two events (``Banjo&3tsi7DKGrWQ&good&0&10`` and
  ``Mandolin&3tsi7DKGrWQ&good&0&10``): one sample per annotation, keyed ``<VideoID>_<Category>``
  (sanitised: ``3tsi7DKGrWQ_Banjo``), which is unique and does not depend on row order.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from crabplus.data.converters._errors import AnnotationError
from crabplus.data.converters._media import find_media
from crabplus.data.converters._readers import as_float, check_split, iter_lines
from crabplus.data.converters._registry import register
from crabplus.data.converters._sample import BAD_SPAN, ZERO_LENGTH_SPAN, Sample, Skip

__all__ = ["read_ave", "AVE_DURATION_S"]

#: AVE clips are 10 s long (the paper's 10 one-second segments).
AVE_DURATION_S = 10.0
_SPLIT_FILES = {"train": "trainSet.txt", "val": "valSet.txt", "test": "testSet.txt"}
_FIELDS = ("Category", "VideoID", "Quality", "StartTime", "EndTime")


@register("ave", tasks=("ave",), splits=tuple(_SPLIT_FILES))
def read_ave(src: Path, split: str) -> Iterator[Sample | Skip]:
    """AVE: trainSet/valSet/testSet.txt rows Category&VideoID&Quality&StartTime&EndTime + AVE/<id>.mp4."""
    check_split(split, tuple(_SPLIT_FILES), "ave")
    path = src / _SPLIT_FILES[split]
    for where, line in iter_lines(path):
        parts = [p.strip() for p in line.split("&")]
        if parts[:2] == ["Category", "VideoID"]:
            continue  # header line
        if len(parts) != len(_FIELDS):
            raise AnnotationError(
                path, where, f"expected {len(_FIELDS)} '&'-separated fields {_FIELDS}, got {len(parts)}"
            )
        label, vid, quality, start, end = parts
        if not label or not vid:
            raise AnnotationError(path, where, "empty Category or VideoID")
        s, e = as_float(start, "StartTime", path, where), as_float(end, "EndTime", path, where)
        if s == e or not 0 <= s < e <= AVE_DURATION_S:
            reason = ZERO_LENGTH_SPAN if s == e else BAD_SPAN
            yield Skip("ave", (path, where), reason, f"StartTime={s:g}, EndTime={e:g} in a 10-s clip")
            continue
        yield Sample(
            origin=(path, where),
            task="ave",
            key=f"{vid}_{label}",
            meta={"video_id": vid, "quality": quality},
            target={"label": label, "segments": [[s, e]], "duration": AVE_DURATION_S},
            media={"video": find_media([src / "AVE" / f"{vid}.mp4"])},
        )
