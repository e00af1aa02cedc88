"""Audio → video matching (Crab+ a2v): which of two videos, concatenated in time, matches the audio; answer
"one" or "two"."""

from crabplus.tasks._base import Task
from crabplus.tasks._registry import register
from crabplus.tasks.families.recognition import RecognitionTask


@register("a2v")
def a2v() -> Task:
    return RecognitionTask(
        name="a2v",
        instruction="The video shows two clips one after the other. Which clip matches the audio? Answer one or two.",
        family="matching",
    )
