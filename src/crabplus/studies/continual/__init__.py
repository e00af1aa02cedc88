"""crabplus.studies.continual: continual audio-video pre-training (STELLA) with baselines and a scenario runner.

Components:
- `AVBackbone`: tiny CAV-MAE-style backbone; `AVMatching`: the AVM cross-attention;
- `patch_importance`, `query_summary`: localized patch importance scoring (step 3-4);
- `replay_correlation`: replay-guided correlation assessment (step 5);
- `select_video`, `select_audio_chunks`: probabilistic patch selection (step 6);
- `ReservoirBuffer`: bounded reservoir replay memory, checkpointed;
- `ContinualAVPretrainer` (nn.Module) and `AVPretrainModule` (LightningModule);
- `saved_activation_bytes`: activation memory of a step; `retrieval_recall`, `continual_summary`.
"""

from crabplus.studies.continual.avm import AVMatching, AVMOutput
from crabplus.studies.continual.backbone import AVBackbone
from crabplus.studies.continual.buffer import ReservoirBuffer
from crabplus.studies.continual.config import (
    METHODS,
    BackboneConfig,
    MethodConfig,
    StellaConfig,
    method_config,
)
from crabplus.studies.continual.correlation import replay_correlation, replay_correlation_fast
from crabplus.studies.continual.importance import (
    key_importance,
    patch_importance,
    query_summary,
    top_candidates,
)
from crabplus.studies.continual.memory import saved_activation_bytes
from crabplus.studies.continual.module import AVPretrainModule
from crabplus.studies.continual.pretrainer import ContinualAVPretrainer
from crabplus.studies.continual.retrieval import KS, continual_summary, retrieval_recall
from crabplus.studies.continual.selection import (
    chunk_keep_mask,
    gumbel_keys,
    select_audio_chunks,
    select_topk,
    select_video,
)

__all__ = [
    "AVBackbone",
    "AVMatching",
    "AVMOutput",
    "AVPretrainModule",
    "BackboneConfig",
    "ContinualAVPretrainer",
    "KS",
    "METHODS",
    "MethodConfig",
    "ReservoirBuffer",
    "StellaConfig",
    "chunk_keep_mask",
    "continual_summary",
    "gumbel_keys",
    "key_importance",
    "method_config",
    "patch_importance",
    "query_summary",
    "replay_correlation",
    "replay_correlation_fast",
    "retrieval_recall",
    "saved_activation_bytes",
    "select_audio_chunks",
    "select_topk",
    "select_video",
    "top_candidates",
]
