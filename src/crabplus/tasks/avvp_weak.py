"""AVVP / LLP weak labels: which events occur in the clip (no modality, no times), from LLP's train split."""

from crabplus.tasks._base import Task
from crabplus.tasks._registry import register
from crabplus.tasks.families.tagging import TaggingTask


@register("avvp_weak")
def avvp_weak() -> Task:
    return TaggingTask(
        name="avvp_weak",
        instruction="Which events occur in the video, in its sound or its pictures? List each event once.",
    )
