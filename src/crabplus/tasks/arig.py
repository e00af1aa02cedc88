"""ARIG audio-referred image grounding (Crab prompt): label and box of the sounding object."""

from crabplus.tasks._base import Task
from crabplus.tasks._registry import register
from crabplus.tasks.families.grounding import GroundingTask


@register("arig")
def arig() -> Task:
    return GroundingTask(
        name="arig",
        instruction="Please recognize the category of object that makes the sound and then output its location coordinates.",
    )
