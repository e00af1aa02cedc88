"""A tiny in-memory DataModule that serves batches in the batch contract (docs/architecture.md).

Used by training tests that must not depend on shards: the overfit test, DDP loss-curve parity, the
non-finite guard. Answers differ in token length by label (parity tests pick labels of equal length).
"""

from __future__ import annotations

from typing import Any

import lightning as L
import torch
from torch.utils.data import DataLoader, Dataset

PROMPTS = {
    "av": "Watch <video> and listen to <audio>. What is making the sound?",
    "audio": "Listen to <audio>. What is making the sound?",
    "video": "Watch <video>. What is shown?",
}


def make_samples(count: int, spec: dict[str, Any], seed: int = 0, kind: str = "av") -> list[dict[str, Any]]:
    """``count`` samples with random media matching the model's media ``spec``."""
    g = torch.Generator().manual_seed(seed)
    labels = ["dog", "cat", "car", "bell"]
    samples = []
    for i in range(count):
        label = labels[i % len(labels)]
        sample = {
            "task": "synth_cls",
            "key": f"fixed/{i:04d}",
            "task_id": 0,
            "prompt": PROMPTS[kind],
            "answer": f"<answer>{label}</answer>",
            "target": {"label": label},
        }
        if "<video>" in PROMPTS[kind]:
            sample["video"] = torch.rand(spec["num_frames"], 3, spec["frame_size"], spec["frame_size"], generator=g)
        if "<audio>" in PROMPTS[kind]:
            sample["audio"] = torch.randn(spec["n_mels"], spec["mel_frames"], generator=g) * 0.3
        samples.append(sample)
    return samples


def collate(samples: list[dict[str, Any]]) -> dict[str, Any]:
    batch: dict[str, Any] = {k: [s[k] for s in samples] for k in ("task", "key", "prompt", "answer", "target")}
    batch["task_id"] = torch.tensor([s["task_id"] for s in samples])
    for key in ("video", "audio"):
        if key in samples[0]:
            batch[key] = torch.stack([s[key] for s in samples])
    return batch


class _ListDataset(Dataset):
    def __init__(self, samples: list[dict[str, Any]]) -> None:
        self.samples = samples

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> dict[str, Any]:
        return self.samples[index]


class FixedDataModule(L.LightningDataModule):
    """Serves the same ``count`` samples every epoch, unshuffled, in batches of ``batch_size``."""

    task_names = ["synth_cls"]
    val_task_names = ["synth_cls"]

    def __init__(self, spec: dict[str, Any], count: int = 4, batch_size: int = 4, seed: int = 0) -> None:
        super().__init__()
        self.samples = make_samples(count, spec, seed)
        self.batch_size = batch_size

    def train_dataloader(self) -> DataLoader:
        return DataLoader(_ListDataset(self.samples), batch_size=self.batch_size, shuffle=False, collate_fn=collate)

    def val_dataloader(self) -> DataLoader:
        return DataLoader(_ListDataset(self.samples), batch_size=self.batch_size, shuffle=False, collate_fn=collate)
