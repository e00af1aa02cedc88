"""Synthetic world: does the audio belong to the video? "yes"/"no"."""

from crabplus.tasks._base import Task
from crabplus.tasks._registry import register
from crabplus.tasks.families.recognition import RecognitionTask


@register("synth_match")
def synth_match() -> Task:
    return RecognitionTask(
        name="synth_match",
        instruction="Does the audio belong to this video? Answer yes or no.",
        family="matching",
    )
