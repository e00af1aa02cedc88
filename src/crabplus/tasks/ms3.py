"""AVSBench MS3 multi-source segmentation (Crab test prompt); J&F."""

from crabplus.tasks._base import Task
from crabplus.tasks._registry import register
from crabplus.tasks.families.segmentation import SegmentationTask


@register("ms3")
def ms3() -> Task:
    return SegmentationTask(
        name="ms3",
        instruction="Please recognize the category of the object making the sound in the image and segment it out.",
    )
