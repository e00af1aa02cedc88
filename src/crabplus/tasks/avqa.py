"""AVQA (Yang et al. 2022) multiple-choice question answering; the answer is the option text."""

from crabplus.tasks._base import Task
from crabplus.tasks._registry import register
from crabplus.tasks.families.qa import QATask


@register("avqa")
def avqa() -> Task:
    return QATask(
        name="avqa",
        instruction="Please answer this question: {question}",
    )
