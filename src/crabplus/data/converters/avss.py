"""AVSBench-semantic AVSS (Zhou et al. 2023) -> task ``avss``.

Official layout under ``--src`` (``AVSBench_semantic/``)::

    metadata.csv               columns vid, uid, s_min, s_sec, a_obj, split, label
                               (``label`` = subset folder: v1s, v1m or v2)
    <label>/<uid>/frames/<i>.jpg        i = 0..4 (v1s, v1m) or 0..9 (v2)
    <label>/<uid>/labels_rgb/<i>.png    colour-palette semantic masks (AVSBench palette, 71 classes);
                                        v1s train has only i = 0
    <label>/<uid>/audio.wav

One sample per annotated frame (a row without any ``labels_rgb`` png is skipped, reason
``"no annotated frame"``; a missing frame or audio file is the runner's ``"missing media"``), files stored
as they are: ``jpg`` = the frame, ``mask.png`` = the
``labels_rgb`` palette mask (``meta["mask_format"] = "avsbench_rgb_palette"``), ``wav`` = the clip's
audio. The json target is ``{"label": a_obj}``; the shard reader decodes ``mask.png`` through the
AVSBench palette (``crabplus.tasks.families.AVSBENCH_PALETTE``: 71 colours, black = background) into
``target["mask"]``, an (H, W) map of class indices, so AVSS is scored as semantic segmentation.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from crabplus.data.converters._avsbench import AVSBENCH_SPLITS
from crabplus.data.converters._errors import AnnotationError
from crabplus.data.converters._media import find_media
from crabplus.data.converters._readers import check_split, iter_csv
from crabplus.data.converters._registry import register
from crabplus.data.converters._sample import Sample, Skip
from crabplus.tasks.families import AVSBENCH_MASK_FORMAT

__all__ = ["read_avss", "NO_MASKS"]

NO_MASKS = "no annotated frame"

_FRAMES = {"v1s": 5, "v1m": 5, "v2": 10}


@register("avss", tasks=("avss",), splits=AVSBENCH_SPLITS)
def read_avss(src: Path, split: str) -> Iterator[Sample | Skip]:
    """AVSBench-semantic: metadata.csv (vid, uid, a_obj, split, label) + <label>/<uid>/{frames,labels_rgb}."""
    check_split(split, AVSBENCH_SPLITS, "avss")
    path = src / "metadata.csv"
    for where, row in iter_csv(path, ("vid", "uid", "a_obj", "split", "label")):
        if row["split"] != split:
            continue
        subset, uid = row["label"], row["uid"]
        if subset not in _FRAMES:
            raise AnnotationError(
                path, where, f"field 'label' must be one of {sorted(_FRAMES)}, got {subset!r}"
            )
        base = src / subset / uid
        audio = find_media([base / "audio.wav"])
        indices = [i for i in range(_FRAMES[subset]) if (base / "labels_rgb" / f"{i}.png").is_file()]
        if not indices:
            yield Skip("avss", (path, where), NO_MASKS, f"no labels_rgb/<i>.png in {base}")
            continue
        for i in indices:
            frame = find_media([base / "frames" / f"{i}.jpg", base / "frames" / f"{i}.png"])
            yield Sample(
                origin=(path, where),
                task="avss",
                key=f"{uid}_{i}",
                meta={
                    "video_id": row["vid"],
                    "uid": uid,
                    "subset": subset,
                    "frame": i,
                    "num_frames": _FRAMES[subset],
                    "mask_format": AVSBENCH_MASK_FORMAT,
                },
                target={"label": row["a_obj"]},
                media={"image": frame, "mask": base / "labels_rgb" / f"{i}.png", "audio": audio},
            )
