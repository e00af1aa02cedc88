"""UnAV-100 dense audio-visual event localisation: every event with its time range."""

from crabplus.tasks._base import Task
from crabplus.tasks._registry import register
from crabplus.tasks.families.localisation import DenseLocalisationTask


@register("unav100")
def unav100() -> Task:
    return DenseLocalisationTask(
        name="unav100",
        instruction="Please find all the audio-visual events in the video and give the time range of each.",
    )
