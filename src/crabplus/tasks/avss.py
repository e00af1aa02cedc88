"""AVSBench AVSS semantic segmentation (Crab test prompt); per-class mIoU/F."""

from crabplus.tasks._base import Task
from crabplus.tasks._registry import register
from crabplus.tasks.families.segmentation import SegmentationTask


@register("avss")
def avss() -> Task:
    return SegmentationTask(
        name="avss",
        instruction="Please recognize the category of the object making the sound in the image and segment it out.",
        kind="semantic",
    )
