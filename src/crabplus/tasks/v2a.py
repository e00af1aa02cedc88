"""Video → audio matching (Crab+ v2a): which of two audio clips, concatenated in time, matches the video;
answer "one" or "two"."""

from crabplus.tasks._base import Task
from crabplus.tasks._registry import register
from crabplus.tasks.families.recognition import RecognitionTask


@register("v2a")
def v2a() -> Task:
    return RecognitionTask(
        name="v2a",
        instruction="The audio holds two clips one after the other. Which clip matches the video? Answer one or two.",
        family="matching",
    )
