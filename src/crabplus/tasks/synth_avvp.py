"""Synthetic world: audio and visual event lists with time ranges."""

from crabplus.tasks._base import Task
from crabplus.tasks._registry import register
from crabplus.tasks.families.parsing import VideoParsingTask


@register("synth_avvp")
def synth_avvp() -> Task:
    return VideoParsingTask(
        name="synth_avvp",
        instruction="Please determine the events that occur based on the visual and audio information in the video, as well as the start and end times of these events.",
    )
