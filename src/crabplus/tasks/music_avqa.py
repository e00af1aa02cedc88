"""MUSIC-AVQA open-answer question answering (Crab prompt); accuracy per question type."""

from crabplus.tasks._base import Task
from crabplus.tasks._registry import register
from crabplus.tasks.families.qa import QATask


@register("music_avqa")
def music_avqa() -> Task:
    return QATask(
        name="music_avqa",
        instruction="Please answer this question: {question}",
    )
