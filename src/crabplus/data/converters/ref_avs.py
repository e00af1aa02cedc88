"""Ref-AVS (referring audio-visual segmentation, Wang et al. ECCV 2024) -> task ``ref_avs``.

Official layout under ``--src`` (``REFAVS/``)::

    metadata.csv               columns vid, uid, split, fid, exp; splits train / val / test_s / test_u /
                               test_n (seen, unseen, null); ``uid`` = ``<vid>_<fid>_<object>_<k>``
    media/<vid>/frames/<i>.jpg           i = 0..9 (one frame per second of the 10-s clip)
    media/<vid>/audio.wav
    gt_mask/<vid>/fid_<fid>/0000<i>.png  the referred object's binary mask per frame (empty for test_n)

One sample per (expression, frame), files stored as they are: ``jpg`` = frame, ``mask.png`` = mask, ``wav`` = the
10-s audio; meta ``expression`` (the ``exp`` text), ``frame`` (0-based second). Target
``{"label": object}`` with the object name taken from ``uid`` as the reference code
does (``uid.rsplit('_', 2)[1]``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from crabplus.data.converters._errors import AnnotationError
from crabplus.data.converters._media import find_media
from crabplus.data.converters._readers import check_split, iter_csv
from crabplus.data.converters._registry import register
from crabplus.data.converters._sample import Sample

__all__ = ["read_ref_avs"]

_SPLITS = ("train", "val", "test_s", "test_u", "test_n")
REF_AVS_FRAMES = 10


@register("ref_avs", tasks=("ref_avs",), splits=_SPLITS)
def read_ref_avs(src: Path, split: str) -> Iterator[Sample]:
    """Ref-AVS: metadata.csv (vid, uid, split, fid, exp) + media/<vid>/ + gt_mask/<vid>/fid_<fid>/."""
    check_split(split, _SPLITS, "ref_avs")
    path = src / "metadata.csv"
    for where, row in iter_csv(path, ("vid", "uid", "split", "fid", "exp")):
        if row["split"] != split:
            continue
        vid, uid, fid = row["vid"], row["uid"], row["fid"]
        parts = uid.rsplit("_", 2)
        if len(parts) != 3 or not parts[1]:
            raise AnnotationError(path, where, f"field 'uid' {uid!r} is not <vid>_<fid>_<object>_<k>")
        audio = find_media([src / "media" / vid / "audio.wav"])
        for i in range(REF_AVS_FRAMES):
            frame = find_media(
                [src / "media" / vid / "frames" / f"{i}.jpg", src / "media" / vid / "frames" / f"{i}.png"]
            )
            mask = find_media([src / "gt_mask" / vid / f"fid_{fid}" / f"0000{i}.png"])
            yield Sample(
                origin=(path, where),
                task="ref_avs",
                key=f"{uid}_{i}",
                meta={
                    "expression": row["exp"],
                    "frame": i,
                    "num_frames": REF_AVS_FRAMES,
                    "video_id": vid,
                    "uid": uid,
                    "fid": fid,
                },
                target={"label": parts[1]},
                media={"image": frame, "mask": mask, "audio": audio},
            )
