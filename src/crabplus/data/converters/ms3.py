"""AVSBench-object MS3 (multi-source AVS, Zhou et al. ECCV 2022) -> task ``ms3``.

Official layout under ``--src`` (``AVSBench_object/Multi-sources/``)::

    ms3_meta_data.csv          first column = video name (the official loader reads it by position),
                               a ``split`` column (train / val / test); a ``category`` / ``a_obj`` column
                               is used as the label when present
    ms3_data/visual_frames/<name>/<name>.mp4_<i>.png   i = 1..5, the official frame naming (the frames
                                                       were cut from <name>.mp4); <name>_<i>.png too
    ms3_data/gt_masks/<split>/<name>/<name>_<i>.png    all 5 frames annotated, every split
    ms3_data/audio_wav/<split>/<name>.wav

One sample per annotated frame, as in ``s4`` (``png`` frame, ``mask.png``, ``wav``). Target ``{"label"}``
(the mask comes back from ``mask.png``); MS3 has several
sounding objects and the official csv names none, so ``label`` is ``None`` unless the csv has a
``category`` or ``a_obj`` column.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from crabplus.data.converters._avsbench import AVSBENCH_SPLITS, data_root, first_column
from crabplus.data.converters._media import find_media
from crabplus.data.converters._readers import check_split, iter_csv
from crabplus.data.converters._registry import register
from crabplus.data.converters._sample import Sample

__all__ = ["read_ms3"]

MS3_FRAMES = 5


@register("ms3", tasks=("ms3",), splits=AVSBENCH_SPLITS)
def read_ms3(src: Path, split: str) -> Iterator[Sample]:
    """AVSBench MS3: ms3_meta_data.csv (name, split) + ms3_data/{visual_frames,gt_masks,audio_wav}."""
    check_split(split, AVSBENCH_SPLITS, "ms3")
    path = src / "ms3_meta_data.csv"
    root = data_root(src, "ms3_data")
    for where, row in iter_csv(path, ("split",)):
        if row["split"] != split:
            continue
        name = first_column(row, path, where)
        label = row.get("category") or row.get("a_obj") or None
        audio = find_media([root / "audio_wav" / split / f"{name}.wav"])
        for i in range(1, MS3_FRAMES + 1):
            frames = root / "visual_frames" / name
            frame = find_media([frames / f"{name}.mp4_{i}.png", frames / f"{name}_{i}.png"])
            mask = find_media([root / "gt_masks" / split / name / f"{name}_{i}.png"])
            yield Sample(
                origin=(path, where),
                task="ms3",
                key=f"{name}_{i}",
                meta={"video_id": name, "frame": i - 1, "num_frames": MS3_FRAMES},
                target={"label": label},
                media={"image": frame, "mask": mask, "audio": audio},
            )
