"""Synthetic world: caption of the clip."""

from crabplus.tasks._base import Task
from crabplus.tasks._registry import register
from crabplus.tasks.families.captioning import CaptionTask


@register("synth_cap")
def synth_cap() -> Task:
    return CaptionTask(
        name="synth_cap",
        instruction="Please describe this video and audio.",
    )
