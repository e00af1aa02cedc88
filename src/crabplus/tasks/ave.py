"""AVE audio-visual event localisation (Crab prompt): event label and its time range."""

from crabplus.tasks._base import Task
from crabplus.tasks._registry import register
from crabplus.tasks.families.localisation import EventLocalisationTask


@register("ave")
def ave() -> Task:
    return EventLocalisationTask(
        name="ave",
        instruction="Please describe the events and time range that occurred in the video.",
    )
