"""Ref-AVS (referring audio-visual segmentation, Wang et al. ECCV 2024) -> task ``ref_avs``.

Official layout under ``--src`` (``REFAVS/``; ``metadata.csv`` as published in the Ref-AVS repository's
``data/``, CRLF line ends, quoted fields)::

    metadata.csv               columns vid, uid, split, fid, exp; splits train / val / test_s / test_u /
                               test_n (seen, unseen, null); ``uid`` = ``<vid>_<object>_<k>``
    media/<vid>/frames/<i>.jpg           i = 0..9 (one frame per second of the 10-s clip)
    media/<vid>/audio.wav
    gt_mask/<vid>/fid_<fid>/0000<i>.png  the referred object's binary mask per frame (empty for test_n)

``<vid>`` of the media folders is taken from ``uid`` as the official loader does
(``uid.rsplit('_', 2)[0]``: ``null_c-<vid>`` for the null split), falling back to the ``vid`` column.

One sample per (expression, frame), files stored as they are: ``jpg`` = frame, ``mask.png`` = mask, ``wav`` =
the 10-s audio; meta ``expression`` (the ``exp`` text), ``frame`` (0-based second). Target
``{"label": object, "subset": "seen" | "unseen" | "null"}``: the object name from ``uid`` as the official
code does (``uid.rsplit('_', 2)[1]``) and the evaluation subset of the split (test_s seen, test_u unseen,
test_n null; train and val seen), which the Ref-AVS metric groups by.

Quirks of the real file, handled as data: a row repeated verbatim (``duplicate row``), one ``uid`` given
twice with different frames/expressions (``duplicate key with conflicting annotation``), and an
expression that is the annotation tool's error message (``[Error] 错误: ...``, reason
``expression is an annotation error``). Rows of other splits (``TODO``) are not read.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from crabplus.data.converters._errors import AnnotationError
from crabplus.data.converters._media import find_media
from crabplus.data.converters._readers import check_split, clean_text, iter_csv
from crabplus.data.converters._registry import register
from crabplus.data.converters._sample import Sample, Skip

__all__ = ["read_ref_avs", "REF_AVS_FRAMES", "SUBSETS", "ERROR_EXPRESSION"]

SUBSETS = {"train": "seen", "val": "seen", "test_s": "seen", "test_u": "unseen", "test_n": "null"}
REF_AVS_FRAMES = 10
ERROR_EXPRESSION = "expression is an annotation error"


@register("ref_avs", tasks=("ref_avs",), splits=tuple(SUBSETS))
def read_ref_avs(src: Path, split: str) -> Iterator[Sample | Skip]:
    """Ref-AVS: metadata.csv (vid, uid, split, fid, exp) + media/<vid>/ + gt_mask/<vid>/fid_<fid>/."""
    check_split(split, tuple(SUBSETS), "ref_avs")
    path = src / "metadata.csv"
    for where, row in iter_csv(path, ("vid", "uid", "split", "fid", "exp")):
        if row["split"] != split:
            continue
        uid, fid, expression = row["uid"], row["fid"], clean_text(row["exp"])
        parts = uid.rsplit("_", 2)
        if len(parts) != 3 or not parts[1]:
            raise AnnotationError(path, where, f"field 'uid' {uid!r} is not <vid>_<object>_<k>")
        if expression.startswith("[Error]"):
            yield Skip("ref_avs", (path, where), ERROR_EXPRESSION, f"uid {uid!r}: {expression!r}")
            continue
        vid = next((v for v in (parts[0], row["vid"]) if (src / "media" / v).is_dir()), parts[0])
        for i in range(REF_AVS_FRAMES):
            frames = src / "media" / vid / "frames"
            yield Sample(
                origin=(path, where),
                task="ref_avs",
                key=f"{uid}_{i}",
                meta={
                    "expression": expression,
                    "frame": i,
                    "num_frames": REF_AVS_FRAMES,
                    "video_id": row["vid"],
                    "uid": uid,
                    "fid": fid,
                },
                target={"label": parts[1], "subset": SUBSETS[split]},
                media={
                    "image": find_media([frames / f"{i}.jpg", frames / f"{i}.png"]),
                    "mask": src / "gt_mask" / vid / f"fid_{fid}" / f"0000{i}.png",
                    "audio": src / "media" / vid / "audio.wav",
                },
            )
