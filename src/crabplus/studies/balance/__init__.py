"""crabplus.studies.balance: the modality-balancing study on a small audio-visual classifier.

Compares the strategies of `crabplus.balance` (fused-only, multi-loss, OGM-GE, MLB) on the synthetic
world's recognition task with audio the dominant modality (`tools/balance_study.py`,
`configs/balance/*.yaml`):

- `AVClassifier` (log-mel CNN + frame CNN, unimodal heads, four fusions) and its encoders;
- `AVClassifierModule`: the LightningModule that trains it under a strategy;
- `SynthAVDataModule`: the rendered, cached synthetic clips;
- `encoder_features`, `linear_probe_accuracy`: linear probes on each frozen encoder.
"""

from crabplus.studies.balance._data import AVTensorDataset, SynthAVDataModule, batch_labels, collate_av
from crabplus.studies.balance._model import FUSIONS, AudioEncoder, AVClassifier, AVOutputs, VideoEncoder
from crabplus.studies.balance._module import AVClassifierModule
from crabplus.studies.balance._probe import encoder_features, linear_probe_accuracy

__all__ = [
    "FUSIONS",
    "AVClassifier",
    "AVClassifierModule",
    "AVOutputs",
    "AVTensorDataset",
    "AudioEncoder",
    "SynthAVDataModule",
    "VideoEncoder",
    "batch_labels",
    "collate_av",
    "encoder_features",
    "linear_probe_accuracy",
]
