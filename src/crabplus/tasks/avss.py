"""AVSBench AVSS semantic segmentation (Crab test prompt); AVSBench mIoU/F over 71 classes with background."""

from crabplus.tasks._base import Task
from crabplus.tasks._registry import register
from crabplus.tasks.families.avsbench_classes import AVSBENCH_CLASSES
from crabplus.tasks.families.segmentation import SegmentationTask


@register("avss")
def avss() -> Task:
    return SegmentationTask(
        name="avss",
        instruction="Please recognize the category of the object making the sound in the image and segment it out.",
        kind="semantic",
        classes=AVSBENCH_CLASSES,
    )
