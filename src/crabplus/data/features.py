"""Audio front ends: the features each audio tower was trained on, computed from a mono waveform.

- ``whisper_features``: what ``WhisperFeatureExtractor`` gives Whisper and Qwen2.5-Omni's audio tower.
  The waveform is zero-padded (or cropped) to the extractor's chunk, the log10 mel power is taken frame
  by frame (the STFT's last frame dropped), clamped to ``max - 8`` over the whole chunk and mapped by
  ``(x + 4) / 4``. Computing on the padded chunk, not on the clip, matters: the frames at the clip's end
  see zeros rather than a reflection, the maximum is the chunk's, and the padding frames carry the
  extractor's silence value.
- ``kaldi_fbank``: BEATs' input, Kaldi's log mel filter bank (25 ms povey-windowed frames every 10 ms,
  DC removal, pre-emphasis 0.97, power spectrum, HTK-scale mel filters from 20 Hz, natural log) of the waveform × 2^15,
  then BEATs' dataset normalisation ``(x - 15.41663) / (2 · 6.55582)``.
"""

from __future__ import annotations

import math
from functools import lru_cache

import torch

from crabplus.data.decode import _mel_filters

__all__ = [
    "BEATS_FBANK_MEAN",
    "BEATS_FBANK_STD",
    "AUDIO_FEATURES",
    "beats_fbank",
    "kaldi_fbank",
    "whisper_features",
]

#: Mean and standard deviation of the fbank over AudioSet, from the BEATs paper's preprocessing.
BEATS_FBANK_MEAN = 15.41663
BEATS_FBANK_STD = 6.55582
#: Names of the front ends a model can ask for (``media_spec()["audio_features"]``).
AUDIO_FEATURES = ("whisper", "fbank")


def _pad_or_crop(waveform: torch.Tensor, n: int) -> torch.Tensor:
    if waveform.numel() >= n:
        return waveform[:n]
    return torch.cat([waveform, waveform.new_zeros(n - waveform.numel())])


def whisper_features(
    waveform: torch.Tensor,
    sample_rate: int,
    n_mels: int,
    chunk_samples: int,
    hop: int = 160,
    n_fft: int = 400,
) -> torch.Tensor:
    """``WhisperFeatureExtractor`` features of a mono ``(N,)`` waveform: ``(n_mels, chunk_samples // hop)``."""
    x = _pad_or_crop(waveform.float(), chunk_samples)
    spec = torch.stft(
        x, n_fft, hop_length=hop, window=torch.hann_window(n_fft), center=True, return_complex=True
    )  # (n_fft // 2 + 1, 1 + chunk // hop)
    power = spec[:, :-1].abs() ** 2  # the extractor drops the last frame
    log_spec = (_mel_filters(n_fft, n_mels, sample_rate) @ power).clamp_min(1e-10).log10()  # (n_mels, F)
    log_spec = torch.maximum(log_spec, log_spec.max() - 8.0)
    return (log_spec + 4.0) / 4.0


# ---------------------------------------------------------------------------- Kaldi fbank (BEATs)
def _mel(freq: torch.Tensor) -> torch.Tensor:
    return 1127.0 * torch.log1p(freq / 700.0)


@lru_cache(maxsize=8)
def _kaldi_mel_banks(n_mels: int, n_fft: int, sample_rate: int) -> torch.Tensor:
    """Kaldi's triangular filters, equal-spaced on the HTK mel scale from 20 Hz to Nyquist: ``(n_mels, n_fft // 2)``.

    Kaldi drops the Nyquist bin; each triangle is computed on the mel value of the bin's frequency.
    """
    low, high = (
        _mel(torch.tensor(20.0, dtype=torch.float64)),
        _mel(torch.tensor(sample_rate / 2, dtype=torch.float64)),
    )
    delta = (high - low) / (n_mels + 1)
    edges = low + delta * torch.arange(n_mels + 2, dtype=torch.float64)  # (n_mels + 2,)
    left, centre, right = edges[:-2, None], edges[1:-1, None], edges[2:, None]  # (n_mels, 1)
    bins = _mel(sample_rate / n_fft * torch.arange(n_fft // 2, dtype=torch.float64))[None]  # (1, n_fft // 2)
    up, down = (bins - left) / (centre - left), (right - bins) / (right - centre)
    return torch.clamp(torch.minimum(up, down), min=0.0).float()


def kaldi_fbank(
    waveform: torch.Tensor,
    sample_rate: int = 16000,
    n_mels: int = 128,
    frame_ms: float = 25.0,
    shift_ms: float = 10.0,
    preemphasis: float = 0.97,
) -> torch.Tensor:
    """Kaldi ``compute-fbank`` defaults (snip edges, DC removal, povey window, power, log): ``(F, n_mels)``.

    ``F = 1 + (N - frame) // shift`` frames of ``frame`` samples every ``shift``; each frame has its mean
    removed, is pre-emphasised (``x[i] - 0.97·x[i-1]``, the first sample against itself), windowed by the
    povey window ``(0.5 - 0.5·cos(2πn/(L-1)))^0.85``, zero-padded to the next power of two; the power
    spectrum goes through the mel filters and ``log(max(·, eps))``.
    """
    frame = int(sample_rate * frame_ms / 1000)
    shift = int(sample_rate * shift_ms / 1000)
    x = waveform.float()
    if x.numel() < frame:
        raise ValueError(f"kaldi_fbank: {x.numel()} samples, fewer than one {frame_ms} ms frame ({frame})")
    frames = x.unfold(0, frame, shift)  # (F, frame)
    frames = frames - frames.mean(dim=1, keepdim=True)
    previous = torch.cat([frames[:, :1], frames[:, :-1]], dim=1)
    frames = frames - preemphasis * previous
    n = torch.arange(frame, dtype=torch.float64)
    window = (0.5 - 0.5 * torch.cos(2 * math.pi * n / (frame - 1))).pow(0.85).float()
    n_fft = 1 << (frame - 1).bit_length()
    power = torch.fft.rfft(frames * window, n=n_fft).abs().pow(2)  # (F, n_fft // 2 + 1)
    mel = power[:, : n_fft // 2] @ _kaldi_mel_banks(n_mels, n_fft, sample_rate).T  # (F, n_mels)
    return mel.clamp_min(torch.finfo(torch.float32).eps).log()


def beats_fbank(waveform: torch.Tensor, sample_rate: int = 16000, n_mels: int = 128) -> torch.Tensor:
    """BEATs' input features of a ``(N,)`` waveform in [-1, 1]: normalised Kaldi fbank ``(F, n_mels)``."""
    fbank = kaldi_fbank(waveform * 2**15, sample_rate, n_mels)
    return (fbank - BEATS_FBANK_MEAN) / (2 * BEATS_FBANK_STD)
