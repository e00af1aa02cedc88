"""Data for balancing studies: the synthetic world's recognition task, rendered in memory and cached.

The label is the class of the scene's *main* object (``scene.main.label``, the on-screen, loudest
sounding object; see ``crabplus.data.synth.world``). Difficulty is set through the world's knobs: the
defaults make audio the easier, dominant modality (narrowband class tones stay separable under heavy
white noise; probe about 0.93) and video the harder one (pixel noise, 32 px frames, two distractor
objects: which shape is the main one is ambiguous; probe about 0.85). Audio noise is high on purpose, so
audio alone is not enough and the fusion has something to gain from video. Batches follow the architecture's batch contract
(``video`` (B, T, 3, S, S) in [0, 1], ``audio`` log-mel (B, n_mels, F), ``target`` [{"label"}]) plus a
``label`` LongTensor (B,), so the same module trains on `MultiTaskDataModule` batches through
`batch_labels`.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import numpy as np
import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

__all__ = [
    "AVTensorDataset",
    "SynthAVDataModule",
    "batch_labels",
    "collate_av",
    "project_log_mel",
    "render_synth_tensors",
]

MelFn = Callable[[np.ndarray, int, int], Tensor]


def project_log_mel(waveform: np.ndarray, sample_rate: int, n_mels: int, hop: int = 800) -> Tensor:
    """(N,) float32 -> (n_mels, F) via the data package's decoder (one log-mel for the whole project).

    A coarse hop (50 ms at 16 kHz) keeps the study's audio CNN cheap: 4 s give F = 81 frames.
    """
    from crabplus.data.decode import log_mel

    return log_mel(torch.as_tensor(waveform), sample_rate, n_mels, hop=hop, n_fft=2 * hop).float()


def batch_labels(batch: dict[str, Any], class_names: Sequence[str] | None = None) -> Tensor:
    """Class indices (B,) of a batch: its ``label`` tensor, else ``target[i]["label"]`` (name or index).

    This is the thin adapter for `MultiTaskDataModule` batches of classification tasks (CREMA-D, AVE,
    UCF101 shards): names are looked up in ``class_names``.
    """
    if "label" in batch:
        return batch["label"]
    out = []
    for i, target in enumerate(batch["target"]):
        label = target["label"]
        if isinstance(label, str):
            if class_names is None or label not in class_names:
                key = batch.get("key", ["?"] * len(batch["target"]))[i]
                raise KeyError(
                    f"sample {key}: label {label!r} not in model.class_names={list(class_names or [])}"
                )
            label = list(class_names).index(label)
        out.append(int(label))
    return torch.tensor(out, dtype=torch.long, device=batch["audio"].device)


def render_synth_tensors(
    world_config: Any, indices: Sequence[int], n_mels: int, mel_fn: MelFn | None = None
) -> dict[str, Tensor]:
    """Render scenes ``indices`` of a `SynthWorld` to tensors.

    Returns:
        ``video`` uint8 (N, T, 3, S, S), ``audio`` float32 (N, n_mels, F), ``label`` long (N,).
    """
    from crabplus.data.synth import CLASS_NAMES, SynthWorld

    mel_fn = mel_fn or project_log_mel
    world = SynthWorld(world_config)
    videos, mels, labels = [], [], []
    for index in indices:
        scene = world.scene(int(index))
        clip = world.render(scene)
        videos.append(torch.from_numpy(np.ascontiguousarray(clip.frames)).permute(0, 3, 1, 2))  # (T, 3, S, S)
        mels.append(mel_fn(clip.audio, clip.sample_rate, n_mels))  # (n_mels, F)
        labels.append(CLASS_NAMES.index(scene.main.label))
    return {"video": torch.stack(videos), "audio": torch.stack(mels).float(), "label": torch.tensor(labels)}


class AVTensorDataset(Dataset):
    """Rows of pre-rendered tensors (video uint8, audio log-mel, label) as sample dicts."""

    def __init__(self, tensors: dict[str, Tensor], class_names: Sequence[str]) -> None:
        self.tensors = tensors
        self.class_names = list(class_names)

    def __len__(self) -> int:
        return len(self.tensors["label"])

    def __getitem__(self, i: int) -> dict[str, Any]:
        return {k: v[i] for k, v in self.tensors.items()}


def collate_av(samples: list[dict[str, Tensor]], class_names: Sequence[str]) -> dict[str, Any]:
    """Stack samples into a contract batch; frames go from uint8 to float in [0, 1]."""
    labels = torch.stack([s["label"] for s in samples])  # (B,)
    return {
        "video": torch.stack([s["video"] for s in samples]).float() / 255.0,  # (B, T, 3, S, S)
        "audio": torch.stack([s["audio"] for s in samples]),  # (B, n_mels, F)
        "label": labels,
        "target": [{"label": class_names[int(y)]} for y in labels],
        "task": ["synth_recognition"] * len(samples),
    }


class SynthAVDataModule(pl.LightningDataModule):
    """The synthetic world's recognition task with audio dominant and video hard, cached to disk.

    Args:
        num_train / num_val: clips (scene indices 0..num_train-1, then the next num_val).
        num_classes: class pool size.
        frame_size: frame side S in pixels (even, >= 16).
        fps, duration_s: T = fps * duration_s frames.
        max_objects: objects per scene (> 1 adds on-screen distractors: harder video).
        audio_noise: white-noise std on the waveform (audio difficulty).
        visual_noise: pixel-noise std as a fraction of 255 (video difficulty).
        n_mels: mel bins of the audio input.
        batch_size: clips per batch.
        world_seed: the world's seed (the data; model seeds are set by the trainer).
        cache_dir: where rendered tensors are cached as ``<hash>.pt``; None disables caching.
    """

    def __init__(
        self,
        num_train: int = 384,
        num_val: int = 256,
        num_classes: int = 8,
        frame_size: int = 32,
        fps: int = 1,
        duration_s: float = 4.0,
        max_objects: int = 3,
        audio_noise: float = 0.6,
        visual_noise: float = 0.4,
        n_mels: int = 32,
        batch_size: int = 32,
        world_seed: int = 0,
        cache_dir: str | None = "runs/cache/balance",
        mel_fn: MelFn | None = None,
    ) -> None:
        super().__init__()
        self.num_train, self.num_val, self.n_mels = num_train, num_val, n_mels
        self.batch_size, self.cache_dir, self.mel_fn = batch_size, cache_dir, mel_fn
        self.world_kwargs = dict(
            num_classes=num_classes,
            duration_s=duration_s,
            fps=fps,
            frame_size=frame_size,
            sample_rate=16000,
            max_objects=max_objects,
            audio_noise=audio_noise,
            visual_noise=visual_noise,
            seed=world_seed,
        )
        self.class_names: list[str] = []
        self.train_set: AVTensorDataset | None = None
        self.val_set: AVTensorDataset | None = None

    def setup(self, stage: str | None = None) -> None:
        from crabplus.data.synth import CLASS_NAMES, WorldConfig

        if self.train_set is not None:
            return
        config = WorldConfig(**self.world_kwargs)
        self.class_names = list(CLASS_NAMES[: config.num_classes])
        tensors = self._load_or_render(config)
        split = {k: (v[: self.num_train], v[self.num_train :]) for k, v in tensors.items()}
        self.train_set = AVTensorDataset({k: v[0] for k, v in split.items()}, self.class_names)
        self.val_set = AVTensorDataset({k: v[1] for k, v in split.items()}, self.class_names)

    def _load_or_render(self, config: Any) -> dict[str, Tensor]:
        key = json.dumps(
            {
                "world": asdict(config),
                "n": self.num_train + self.num_val,
                "n_mels": self.n_mels,
                "mel": getattr(self.mel_fn, "__name__", "project_log_mel/800"),
            },
            sort_keys=True,
        )
        path = None
        if self.cache_dir is not None:
            path = Path(self.cache_dir) / f"synth-{hashlib.sha1(key.encode()).hexdigest()[:16]}.pt"
            if path.exists():
                return torch.load(path)
        tensors = render_synth_tensors(config, range(self.num_train + self.num_val), self.n_mels, self.mel_fn)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            torch.save(tensors, tmp)
            tmp.replace(path)
        return tensors

    def _loader(self, dataset: AVTensorDataset | None, shuffle: bool) -> DataLoader:
        if dataset is None:
            raise RuntimeError("SynthAVDataModule.setup() has not run")
        return DataLoader(
            dataset,
            batch_size=self.batch_size,
            shuffle=shuffle,
            drop_last=shuffle,
            collate_fn=functools.partial(collate_av, class_names=self.class_names),
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader(self.train_set, shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader(self.val_set, shuffle=False)
