"""crabplus.metrics: torchmetrics ``Metric`` subclasses for the audio-visual tasks.

Every metric takes ``update(predictions: list[dict], targets: list[dict])`` with the plain dicts of the
task contract (docs/architecture.md), counts unparseable predictions as wrong, keeps DDP-reducible state
(sums, or ``cat`` lists) and returns ``compute() -> dict[str, float]``. Each module's docstring states the
protocol it implements.
"""

from crabplus.metrics.avvp import AVVP_KEYS, AVVPScores
from crabplus.metrics.captioning import CaptionScores, cider_d
from crabplus.metrics.classification import LabelScores, QAAccuracy, weighted_f1
from crabplus.metrics.grounding import BoxGroundingScores, box_iou
from crabplus.metrics.masks import MaskJF, RefAVSScores, SemanticMaskScores
from crabplus.metrics.temporal import SegmentAccuracy, TemporalDetectionF1, tiou

__all__ = [
    "AVVP_KEYS",
    "AVVPScores",
    "BoxGroundingScores",
    "CaptionScores",
    "LabelScores",
    "MaskJF",
    "QAAccuracy",
    "RefAVSScores",
    "SegmentAccuracy",
    "SemanticMaskScores",
    "TemporalDetectionF1",
    "box_iou",
    "cider_d",
    "tiou",
    "weighted_f1",
]
