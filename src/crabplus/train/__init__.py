"""Training: the thin LightningModule, optimizer wiring, guards and reporting callbacks."""

from crabplus.train.module import AVLLMModule
from crabplus.train.optim import OptimizerConfig

__all__ = ["AVLLMModule", "OptimizerConfig"]
