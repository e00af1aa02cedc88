"""Synthetic world: label and mask of the sounding object in a still frame."""

from crabplus.tasks._base import Task
from crabplus.tasks._registry import register
from crabplus.tasks.families.segmentation import SegmentationTask


@register("synth_seg")
def synth_seg() -> Task:
    return SegmentationTask(
        name="synth_seg",
        instruction="Please recognize the category of the object making the sound in the image and segment it out.",
    )
