"""Synthetic world: label and box of the sounding object in a still frame."""

from crabplus.tasks._base import Task
from crabplus.tasks._registry import register
from crabplus.tasks.families.grounding import GroundingTask


@register("synth_ground")
def synth_ground() -> Task:
    return GroundingTask(
        name="synth_ground",
        instruction="Please recognize the category of object that makes the sound and then output its location coordinates.",
    )
