"""MAFW emotion recognition (4 frames + 4 × 1 s audio → emotion label)."""

from crabplus.tasks._base import Task
from crabplus.tasks._registry import register
from crabplus.tasks.families.recognition import RecognitionTask


@register("mafw")
def mafw() -> Task:
    return RecognitionTask(
        name="mafw",
        instruction="What emotion does the person in the video express? Answer with the emotion label.",
    )
