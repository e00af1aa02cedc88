"""MER2024 emotion recognition (4 frames + 4 × 1 s audio → emotion label)."""

from crabplus.tasks._base import Task
from crabplus.tasks._registry import register
from crabplus.tasks.families.recognition import RecognitionTask


@register("mer24")
def mer24() -> Task:
    return RecognitionTask(
        name="mer24",
        instruction="What emotion does the person in the video express? Answer with the emotion label.",
    )
