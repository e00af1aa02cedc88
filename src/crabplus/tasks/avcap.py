"""Audio-visual captioning (Crab prompt); BLEU-4, ROUGE-L, CIDEr-D."""

from crabplus.tasks._base import Task
from crabplus.tasks._registry import register
from crabplus.tasks.families.captioning import CaptionTask


@register("avcap")
def avcap() -> Task:
    return CaptionTask(
        name="avcap",
        instruction="Please describe this video and audio.",
    )
