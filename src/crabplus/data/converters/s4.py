"""AVSBench-object S4 (single-source AVS, Zhou et al. ECCV 2022) -> task ``s4``.

Official layout under ``--src`` (``AVSBench_object/Single-source/``)::

    s4_meta_data.csv           first column = video name (read by position, as the official loader does),
                               columns ``category`` and ``split`` (train / val / test) by name
    s4_data/visual_frames/<split>/<category>/<name>/<name>_<i>.png    i = 1..5 (one frame per second)
    s4_data/gt_masks/<split>/<category>/<name>/<name>_<i>.png         binary; train has only i = 1
    s4_data/audio_wav/<split>/<category>/<name>.wav                   the 5-s audio

One sample per annotated frame, files stored as they are: ``png`` = the frame, ``mask.png`` = its mask
(the shard reader turns it into ``target["mask"]``, so the json target is ``{"label": category}``),
``wav`` = the whole 5-s audio; ``meta["frame"]`` is the 0-based second the frame shows (for cutting the
1-s audio window).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from crabplus.data.converters._avsbench import AVSBENCH_SPLITS, S4_FRAMES, iter_s4_frames
from crabplus.data.converters._readers import check_split
from crabplus.data.converters._registry import register
from crabplus.data.converters._sample import Sample

__all__ = ["read_s4"]


@register("s4", tasks=("s4",), splits=AVSBENCH_SPLITS)
def read_s4(src: Path, split: str) -> Iterator[Sample]:  # missing files: checked by the runner
    """AVSBench S4: s4_meta_data.csv (name, category, split) + s4_data/{visual_frames,gt_masks,audio_wav}."""
    check_split(split, AVSBENCH_SPLITS, "s4")
    for f in iter_s4_frames(src, split):
        yield Sample(
            origin=f.origin,
            task="s4",
            key=f"{f.name}_{f.index}",
            meta={"video_id": f.name, "frame": f.index - 1, "num_frames": S4_FRAMES},
            target={"label": f.category},
            media={"image": f.frame, "mask": f.mask, "audio": f.audio},
        )
