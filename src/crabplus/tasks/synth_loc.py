"""Synthetic world: the main object's label and when it sounds."""

from crabplus.tasks._base import Task
from crabplus.tasks._registry import register
from crabplus.tasks.families.localisation import EventLocalisationTask


@register("synth_loc")
def synth_loc() -> Task:
    return EventLocalisationTask(
        name="synth_loc",
        instruction="Please describe the events and time range that occurred in the video.",
    )
