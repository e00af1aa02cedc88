"""UCF101 (Soomro et al. 2012) -> task ``ucf101``.

Official layout under ``--src``::

    ucfTrainTestlist/classInd.txt           "<index> <ClassName>" (1-based), 101 lines
    ucfTrainTestlist/trainlist0{1,2,3}.txt  "<ClassName>/v_<ClassName>_gXX_cYY.avi <index>"
    ucfTrainTestlist/testlist0{1,2,3}.txt   "<ClassName>/v_<ClassName>_gXX_cYY.avi"
    UCF-101/<ClassName>/v_<...>.avi

Splits ``train`` / ``test`` are official split 1; ``train2``, ``test2``, ``train3``, ``test3`` the other
two. The label is the class folder of the listed path, checked against ``classInd.txt`` (and against the
index given in trainlists). The .avi (xvid) clips are transcoded to H.264 + AAC mp4 when written; clips
without an audio track (about half of UCF101) give a video-only mp4.

Target ``{"label": ClassName}``; meta ``{"video_id"}``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from crabplus.data.converters._errors import AnnotationError
from crabplus.data.converters._readers import check_split, iter_lines
from crabplus.data.converters._registry import register
from crabplus.data.converters._sample import Sample

__all__ = ["read_ucf101"]

_SPLITS = ("train", "test", "train2", "test2", "train3", "test3")


@register("ucf101", tasks=("ucf101",), splits=_SPLITS)
def read_ucf101(src: Path, split: str) -> Iterator[Sample]:
    """UCF101: ucfTrainTestlist/{classInd,trainlist0N,testlist0N}.txt + UCF-101/<Class>/<clip>.avi."""
    check_split(split, _SPLITS, "ucf101")
    lists = src / "ucfTrainTestlist"
    classes = _class_index(lists / "classInd.txt")
    kind, fold = split.rstrip("23"), split[-1] if split[-1] in "23" else "1"
    path = lists / f"{kind}list0{fold}.txt"
    for where, line in iter_lines(path):
        parts = line.split()
        rel = parts[0]
        label = rel.split("/")[0]
        if "/" not in rel or label not in classes.values():
            raise AnnotationError(path, where, f"path {rel!r} does not start with a class of classInd.txt")
        if len(parts) > 1 and classes.get(parts[1]) != label:
            raise AnnotationError(path, where, f"class index {parts[1]} is not {label!r} in classInd.txt")
        video = src / "UCF-101" / rel
        yield Sample(
            origin=(path, where),
            task="ucf101",
            key=video.stem,
            meta={"video_id": video.stem},
            target={"label": label},
            media={"video": video},
        )


def _class_index(path: Path) -> dict[str, str]:
    """classInd.txt as ``{"1": "ApplyEyeMakeup", ...}``."""
    out = {}
    for where, line in iter_lines(path):
        parts = line.split()
        if len(parts) != 2:
            raise AnnotationError(path, where, f"expected '<index> <ClassName>', got {line!r}")
        out[parts[0]] = parts[1]
    return out
