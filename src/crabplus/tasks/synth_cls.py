"""Synthetic world: label of the main sounding object (meta "classes" listed as options)."""

from crabplus.tasks._base import Task
from crabplus.tasks._registry import register
from crabplus.tasks.families.recognition import RecognitionTask


@register("synth_cls")
def synth_cls() -> Task:
    return RecognitionTask(
        name="synth_cls",
        instruction="What is the main object making a sound in the video? Answer with its label.",
    )
