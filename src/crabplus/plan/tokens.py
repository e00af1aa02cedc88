"""Tokens per sample of each task: media tokens + prompt + answer, the LM sequence ``plan`` budgets for.

Media tokens are exact (the model's ``media_token_counts``). The prompt is the task's own template with
every ``{field}`` filled by one placeholder word, tokenised as the model tokenises prompts (BOS, or the
chat template with its system prompt), so it is a lower bound for prompts with long fields (questions,
option lists). The answer is the generation budget ``max_new_tokens`` plus EOS (an upper bound of a
generated answer; training answers are usually shorter). Encoder tokens (what the towers see before the
connector) are counted per modality for the encoders' activation memory.
"""

from __future__ import annotations

import math
import string
from dataclasses import dataclass, field

from crabplus import tasks
from crabplus.tasks import media_header

__all__ = ["TaskTokens", "encoder_tokens", "task_tokens"]

_FIELD_WORD = "something"


@dataclass
class TaskTokens:
    task: str
    modalities: tuple[str, ...]
    media: int
    prompt: int
    answer: int
    encoder: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return self.media + self.prompt + self.answer


def _template(task) -> str:
    fields = {name for _, name, _, _ in string.Formatter().parse(task.instruction) if name}
    return media_header(task.modalities) + task.instruction.format(**{f: _FIELD_WORD for f in fields})


def encoder_tokens(model) -> dict[str, int]:
    """Tokens one clip/image puts through each encoder stack, by modality (before any connector)."""
    cfg = model.config
    vision = model.vision_encoder.config if model.vision_encoder is not None else None
    audio = model.audio_encoder.config if model.audio_encoder is not None else None
    out = {"video": 0, "audio": 0, "image": 0}
    if cfg.paradigm == "omni":
        side = model.media.side // vision.patch_size
        out["video"] = math.ceil(cfg.num_frames / vision.temporal_patch_size) * side * side
        out["image"] = side * side
        out["audio"] = (cfg.mel_frames - 1) // 2 + 1
    else:
        if vision is not None:
            per_frame = (vision.image_size // vision.patch_size) ** 2 + 1  # patches + CLS
            out["video"], out["image"] = cfg.num_frames * per_frame, per_frame
        if audio is not None:
            out["audio"] = model.media.audio_encoder_tokens(model.audio_encoder)
    return out


def task_tokens(model, task_names: list[str], max_new_tokens: int) -> list[TaskTokens]:
    """Tokens per sample of each task, with ``model``'s tokenizer and media settings."""
    counts, enc = model.media_token_counts, encoder_tokens(model)
    rows = []
    for name in task_names:
        task = tasks.get(name)
        # through the model's own tokenize: BOS or the chat template's turn markers and system prompt count
        prompt_ids = model.tokenize([_template(task)])["input_ids"][0]
        placeholders = len(task.modalities)  # each placeholder token is replaced by its media tokens
        enc_tokens: dict[str, int] = {}
        for m in task.modalities:
            enc_tokens[m] = enc_tokens.get(m, 0) + enc[m]
        rows.append(
            TaskTokens(
                task=name,
                modalities=tuple(task.modalities),
                media=sum(counts[m] for m in task.modalities),
                prompt=len(prompt_ids) - placeholders,
                answer=max_new_tokens + 1,  # + EOS
                encoder=enc_tokens,
            )
        )
    return rows
