"""crabplus.balance: the modality-balancing strategy library (MLB and baselines) that training uses.

MLB: Kontras et al., BMVC 2024; OGM-GE: Peng et al., CVPR 2022.

- `BalanceStrategy` and its variants `FusedOnly`, `MultiLoss`, `OGMGE`, `MLB`: ``losses(forward_fn,
  batch, step)`` builds the multi-loss objective from `ForwardOutputs`; ``on_before_optimizer_step``
  applies the per-modality coefficients to the gradients (or learning rates).
- `ModalityBalanceCallback`: calls the strategy before each optimizer step and logs ``balance/coef/<m>``.
- Pure rules: `mlb_coefficients`, `ogm_coefficients`, `PhaseOut`; the in-graph route `grad_scale`.
- AV-LLM: `dropped_modality_outputs` builds the branches from modality-dropped forward passes.

The classifier study that compares these strategies lives in `crabplus.studies.balance`.
"""

from crabplus.balance._branches import (
    Branch,
    ForwardOutputs,
    branch_from_logits,
    branch_from_sequence_loss,
    global_scores,
    score_stats,
)
from crabplus.balance._callback import ModalityBalanceCallback, find_modality_parameters
from crabplus.balance._coefficients import (
    PhaseOut,
    mlb_coefficient,
    mlb_coefficients,
    ogm_coefficients,
    others_over_self,
)
from crabplus.balance._grad import (
    ScaleHandle,
    add_ge_noise,
    grad_scale,
    scale_gradients,
    scale_learning_rates,
)
from crabplus.balance._llm import dropped_modality_outputs
from crabplus.balance._strategy import MLB, OGMGE, BalanceStrategy, FusedOnly, MultiLoss, scoped_parameters

__all__ = [
    "MLB",
    "OGMGE",
    "BalanceStrategy",
    "Branch",
    "ForwardOutputs",
    "FusedOnly",
    "ModalityBalanceCallback",
    "MultiLoss",
    "PhaseOut",
    "ScaleHandle",
    "add_ge_noise",
    "branch_from_logits",
    "branch_from_sequence_loss",
    "dropped_modality_outputs",
    "find_modality_parameters",
    "global_scores",
    "grad_scale",
    "mlb_coefficient",
    "mlb_coefficients",
    "ogm_coefficients",
    "others_over_self",
    "scale_gradients",
    "scale_learning_rates",
    "score_stats",
    "scoped_parameters",
]
