"""UCF101 action recognition, audio-bearing subset (video + audio → action label)."""

from crabplus.tasks._base import Task
from crabplus.tasks._registry import register
from crabplus.tasks.families.recognition import RecognitionTask


@register("ucf101")
def ucf101() -> Task:
    return RecognitionTask(
        name="ucf101",
        instruction="What action is being performed in the video? Answer with the action label.",
    )
