"""Synthetic continual domains: disjoint class groups of the synthetic world, rendered in memory.

A domain is a group of classes; its clips are scenes whose class pool is restricted to that group
(`SynthWorld.scene(index, classes=...)`), so consecutive domains share no sounding objects — the
audio-visual relations learned on one domain are exactly what later domains can overwrite.

Clips are rendered once, fitted to the backbone's sizes (T frames, S pixels; `n_mels` × F log-mel,
standardized per clip), and cached as uint8 video / fp16 audio in a `.pt` file under `cache_dir`, keyed
by a hash of everything that determines them. Train and test scenes, and domains, use disjoint scene
indices.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from crabplus.studies.continual.config import BackboneConfig
from crabplus.studies.continual.patches import fit_audio, fit_video

__all__ = ["DomainClips", "default_domains", "render_clips", "build_domains"]

MelFn = Callable[..., torch.Tensor]
_DOMAIN_STRIDE = 1_000_000  # domain d uses scene indices from d·stride (layouts differ across domains)
_TEST_OFFSET = 500_000  # test scenes start here within a domain's range (train scenes from 0)


@dataclass
class DomainClips:
    """One domain: its name, classes, and train / test media (video float (N, T, 3, S, S), audio (N, M, F))."""

    name: str
    classes: list[str]
    train: dict[str, torch.Tensor]
    test: dict[str, torch.Tensor]


def default_domains(class_names: tuple[str, ...] | list[str], num_domains: int = 3) -> list[list[str]]:
    """Split the first classes into `num_domains` disjoint, equally sized groups, in order."""
    per = len(class_names) // num_domains
    return [list(class_names[d * per : (d + 1) * per]) for d in range(num_domains)]


def _default_mel() -> MelFn:
    from crabplus.data.decode import log_mel  # the data package's log-mel (contract: waveform, sr, n_mels)

    return log_mel


def render_clips(world, classes: list[str], indices: range, cfg: BackboneConfig, mel_fn: MelFn) -> dict:
    """Render scenes `indices` restricted to `classes` -> {"video": uint8 (N, T, 3, S, S), "audio": fp16}."""
    videos, audios = [], []
    sr = world.config.sample_rate
    for index in indices:
        clip = world.render(world.scene(index, classes=classes))
        frames = torch.from_numpy(clip.frames).permute(0, 3, 1, 2).float() / 255  # (T, 3, H, W)
        videos.append(fit_video(frames[None], cfg)[0])  # (T', 3, S, S)
        mel = torch.as_tensor(
            mel_fn(torch.from_numpy(clip.audio), sr, cfg.n_mels), dtype=torch.float32
        )  # (M, F)
        mel = (mel - mel.mean()) / (mel.std() + 1e-6)
        audios.append(fit_audio(mel[None], cfg)[0])  # (M, F')
    video = (torch.stack(videos) * 255).round().to(torch.uint8)
    return {"video": video, "audio": torch.stack(audios).half()}


def _as_float(media: dict) -> dict[str, torch.Tensor]:
    return {"video": media["video"].float() / 255, "audio": media["audio"].float()}


def build_domains(
    world,
    groups: list[list[str]],
    n_train: int,
    n_test: int,
    cfg: BackboneConfig,
    cache_dir: str | Path | None = None,
    mel_fn: MelFn | None = None,
) -> list[DomainClips]:
    """Render (or load from cache) every domain's train and test clips.

    Args:
        world: a `crabplus.data.synth.SynthWorld`.
        groups: class names per domain (disjoint).
        n_train, n_test: clips per domain.
        cfg: backbone sizes the clips are fitted to.
        cache_dir: where the `.pt` cache lives (None: no cache).
        mel_fn: log-mel function `(waveform, sample_rate, n_mels) -> (n_mels, F)`;
            default `crabplus.data.decode.log_mel`.
    """
    mel_fn = mel_fn or _default_mel()
    key = json.dumps([repr(world.config), groups, n_train, n_test, asdict(cfg)], sort_keys=True)
    digest = hashlib.sha1(key.encode()).hexdigest()[:12]
    path = Path(cache_dir) / f"continual-domains-{digest}.pt" if cache_dir else None
    if path is not None and path.exists():
        raw = torch.load(path)
    else:
        raw = [
            {
                "train": render_clips(world, g, range(base, base + n_train), cfg, mel_fn),
                "test": render_clips(
                    world, g, range(base + _TEST_OFFSET, base + _TEST_OFFSET + n_test), cfg, mel_fn
                ),
            }
            for base, g in zip(range(0, _DOMAIN_STRIDE * len(groups), _DOMAIN_STRIDE), groups)
        ]
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            torch.save(raw, path)
    return [
        DomainClips(f"domain{d}", list(g), _as_float(r["train"]), _as_float(r["test"]))
        for d, (g, r) in enumerate(zip(groups, raw))
    ]
