"""crabplus: a trainer for audio-visual LLMs with I-LoRA and per-task transfer analysis."""

__version__ = "0.1.0"
