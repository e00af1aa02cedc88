"""Ref-AVS referring segmentation (Crab test prompt, meta "expression"); target "subset" seen/unseen/null."""

from crabplus.tasks._base import Task
from crabplus.tasks._registry import register
from crabplus.tasks.families.segmentation import SegmentationTask


@register("ref_avs")
def ref_avs() -> Task:
    return SegmentationTask(
        name="ref_avs",
        instruction="Please segment out the corresponding object in the image based on the referential expression: {expression}",
        kind="ref",
    )
