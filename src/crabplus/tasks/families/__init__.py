"""Task families: each maps its structured targets to answer parts and back, and picks metric and baseline.

Registered tasks (one file each in ``crabplus.tasks``) are instances of these classes.
"""

from crabplus.tasks.families.avsbench_classes import AVSBENCH_CLASSES, AVSBENCH_MASK_FORMAT, AVSBENCH_PALETTE
from crabplus.tasks.families.box_prompt import BoxFillSegmenter, Segmenter, masks_from_box_prompts
from crabplus.tasks.families.captioning import CaptionTask
from crabplus.tasks.families.grounding import GroundingTask
from crabplus.tasks.families.localisation import DenseLocalisationTask, EventLocalisationTask
from crabplus.tasks.families.parsing import VideoParsingTask
from crabplus.tasks.families.qa import QATask
from crabplus.tasks.families.recognition import RecognitionTask
from crabplus.tasks.families.segmentation import SegmentationTask
from crabplus.tasks.families.tagging import TaggingTask

__all__ = [
    "AVSBENCH_CLASSES",
    "AVSBENCH_MASK_FORMAT",
    "AVSBENCH_PALETTE",
    "BoxFillSegmenter",
    "CaptionTask",
    "DenseLocalisationTask",
    "EventLocalisationTask",
    "GroundingTask",
    "QATask",
    "RecognitionTask",
    "SegmentationTask",
    "Segmenter",
    "TaggingTask",
    "VideoParsingTask",
    "masks_from_box_prompts",
]
