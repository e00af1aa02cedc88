"""Audio front ends vs independent references: WhisperFeatureExtractor, and a naive Kaldi fbank in numpy."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from crabplus.data.features import (
    BEATS_FBANK_MEAN,
    BEATS_FBANK_STD,
    beats_fbank,
    kaldi_fbank,
    whisper_features,
)
from crabplus.data.sample import MediaSpec, audio_features


def _clip(seconds: float, seed: int = 0) -> np.ndarray:
    """A tone with a chirp and noise, loud at the very end (so the frames at the clip's edge matter)."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * 16000)) / 16000
    x = 0.3 * np.sin(2 * np.pi * 440 * t) + 0.1 * np.sin(2 * np.pi * (200 + 300 * t) * t)
    x += 0.02 * rng.standard_normal(t.size)
    x[-800:] *= 3.0
    return x.astype(np.float32)


@pytest.mark.unit
@pytest.mark.parametrize(
    ("n_mels", "chunk_s", "clip_s"), [(80, 30, 4.0), (128, 30, 10.0), (64, 8, 4.0), (64, 4, 5.0)]
)
def test_whisper_features_equal_the_extractor(n_mels: int, chunk_s: int, clip_s: float) -> None:
    from transformers import WhisperFeatureExtractor

    wave = _clip(clip_s)
    extractor = WhisperFeatureExtractor(feature_size=n_mels, chunk_length=chunk_s)  # built from its config
    expected = extractor(wave, sampling_rate=16000, return_tensors="pt")["input_features"][0]
    ours = whisper_features(torch.from_numpy(wave), 16000, n_mels, chunk_s * 16000)
    assert ours.shape == expected.shape == (n_mels, chunk_s * 100)
    assert float((ours - expected).abs().max()) <= 1e-4
    assert -1.5 < float(ours.min()) and float(ours.max()) <= 2.0  # normalised, not raw log10


@pytest.mark.unit
def test_whisper_silence_value_and_clip_frames() -> None:
    """Padding frames hold (max - 8 + 4) / 4; "feature_frames" keeps what the processor's mask selects."""
    from transformers import WhisperFeatureExtractor

    wave = _clip(4.0)
    spec = MediaSpec(n_mels=64, clip_seconds=4.0, chunk_seconds=8.0, feature_frames=400)
    ours = audio_features(torch.from_numpy(wave), spec)
    full = whisper_features(torch.from_numpy(wave), 16000, 64, 8 * 16000)
    silence = (float(full.max()) * 4 - 4 - 8 + 4) / 4  # back to log10, minus 8, forward again
    assert torch.allclose(full[:, 410:], torch.full_like(full[:, 410:], silence), atol=1e-6)
    out = WhisperFeatureExtractor(feature_size=64, chunk_length=8)(
        wave, sampling_rate=16000, return_attention_mask=True, return_tensors="pt"
    )
    mask = out["attention_mask"][0].bool()
    assert int(mask.sum()) == 400
    assert float((ours - out["input_features"][0][:, mask]).abs().max()) <= 1e-4


def _naive_kaldi_fbank(x: np.ndarray, sr: int, n_mels: int) -> np.ndarray:
    """Kaldi's compute-fbank defaults, frame by frame in float64, filters built bin by bin."""
    frame, shift = sr * 25 // 1000, sr * 10 // 1000
    n_fft = 512
    mel = lambda f: 1127.0 * math.log(1.0 + f / 700.0)  # noqa: E731
    lo, hi = mel(20.0), mel(sr / 2)
    step = (hi - lo) / (n_mels + 1)
    banks = np.zeros((n_mels, n_fft // 2 + 1))
    for m in range(n_mels):
        left, centre, right = lo + m * step, lo + (m + 1) * step, lo + (m + 2) * step
        for k in range(n_fft // 2):  # the Nyquist bin keeps weight 0
            v = mel(k * sr / n_fft)
            if left < v < right:
                banks[m, k] = (v - left) / (centre - left) if v <= centre else (right - v) / (right - centre)
    window = np.array([(0.5 - 0.5 * math.cos(2 * math.pi * n / (frame - 1))) ** 0.85 for n in range(frame)])
    rows = []
    for start in range(0, len(x) - frame + 1, shift):
        f = x[start : start + frame].astype(np.float64)
        f = f - f.mean()
        f = np.array([f[i] - 0.97 * f[max(i - 1, 0)] for i in range(frame)])
        spectrum = np.abs(np.fft.rfft(f * window, n_fft)) ** 2
        rows.append(np.log(np.maximum(banks @ spectrum, np.finfo(np.float32).eps)))
    return np.stack(rows)


@pytest.mark.unit
def test_kaldi_fbank_matches_naive_reference() -> None:
    wave = _clip(0.5, seed=3)
    ref = _naive_kaldi_fbank(wave.astype(np.float64) * 2**15, 16000, 128)
    ours = kaldi_fbank(torch.from_numpy(wave) * 2**15, 16000, 128).numpy()
    assert ours.shape == ref.shape == (1 + (8000 - 400) // 160, 128)
    np.testing.assert_allclose(ours, ref, atol=2e-3, rtol=1e-4)  # float32 power spectrum of 2^15-scaled audio


@pytest.mark.unit
def test_beats_fbank_normalisation_by_hand() -> None:
    wave = torch.from_numpy(_clip(0.3, seed=4))
    raw = kaldi_fbank(wave * 32768.0, 16000, 128)
    got = beats_fbank(wave, 16000, 128)
    torch.testing.assert_close(got, (raw - 15.41663) / (2 * 6.55582))
    assert (BEATS_FBANK_MEAN, BEATS_FBANK_STD) == (15.41663, 6.55582)
    spec = MediaSpec(n_mels=128, clip_seconds=0.3, audio_features="fbank")
    torch.testing.assert_close(audio_features(wave, spec), got.T)  # (n_mels, F) like every audio input


@pytest.mark.unit
def test_unknown_front_end_is_named() -> None:
    with pytest.raises(ValueError, match="audio_features='mfcc'"):
        MediaSpec(audio_features="mfcc")
