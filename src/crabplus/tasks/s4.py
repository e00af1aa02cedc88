"""AVSBench S4 single-source segmentation (Crab test prompt); J&F."""

from crabplus.tasks._base import Task
from crabplus.tasks._registry import register
from crabplus.tasks.families.segmentation import SegmentationTask


@register("s4")
def s4() -> Task:
    return SegmentationTask(
        name="s4",
        instruction="Please recognize the category of the object making the sound in the image and segment it out.",
    )
