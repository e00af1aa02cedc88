"""AVVP / LLP audio-visual video parsing (Crab prompt), 25 event classes, audio and visual event lists."""

from crabplus.tasks._base import Task
from crabplus.tasks._registry import register
from crabplus.tasks.families.parsing import VideoParsingTask


@register("avvp")
def avvp() -> Task:
    return VideoParsingTask(
        name="avvp",
        instruction="Please determine the events that occur based on the visual and audio information in the video, as well as the start and end times of these events.",
    )
