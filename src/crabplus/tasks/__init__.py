"""crabplus.tasks: the task registry.

``get(name) -> Task`` and ``names()``. A task is one file in this package that registers one factory with
``@register("<file name>")``; the import list below is the registry entry (a test checks files and
registry agree). Family behaviour (answer parts, metric, baseline) lives in ``tasks.families``.
"""

from crabplus.tasks import (  # noqa: F401 - importing registers the tasks
    a2v,
    arig,
    avcap,
    ave,
    avqa,
    avss,
    avvp,
    avvp_weak,
    cremad,
    dfew,
    ks,
    mafw,
    meld,
    mer24,
    ms3,
    music_avqa,
    ref_avs,
    s4,
    synth_avvp,
    synth_cap,
    synth_cls,
    synth_ground,
    synth_loc,
    synth_match,
    synth_qa,
    synth_seg,
    ucf101,
    unav100,
    v2a,
)
from crabplus.tasks._base import Task, media_header
from crabplus.tasks._registry import get, names, register
from crabplus.tasks._target_check import BAD_TARGET, BadTarget, checked_target

__all__ = ["Task", "get", "names", "register", "media_header", "BAD_TARGET", "BadTarget", "checked_target"]
