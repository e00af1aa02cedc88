"""Kinetics-Sounds action recognition (video + audio → action label)."""

from crabplus.tasks._base import Task
from crabplus.tasks._registry import register
from crabplus.tasks.families.recognition import RecognitionTask


@register("ks")
def ks() -> Task:
    return RecognitionTask(
        name="ks",
        instruction="What action is being performed in the video? Answer with the action label.",
    )
