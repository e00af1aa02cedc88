"""Synthetic world: question answering with options (meta "question", "options", "type")."""

from crabplus.tasks._base import Task
from crabplus.tasks._registry import register
from crabplus.tasks.families.qa import QATask


@register("synth_qa")
def synth_qa() -> Task:
    return QATask(
        name="synth_qa",
        instruction="Please answer this question: {question}",
    )
