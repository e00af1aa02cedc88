"""Decoders against known inputs: frame sampling, resampling/downmix, masks, and log-mel vs a numpy reference."""

from __future__ import annotations

import io

import numpy as np
import pytest
import soundfile as sf
import torch

from crabplus.data.decode import (
    DecodeError,
    _video_pyav,
    frame_indices,
    load_audio,
    load_image,
    load_mask,
    load_video,
    log_mel,
)
from crabplus.data.encode import encode_mp4, encode_png, encode_wav

pytestmark = pytest.mark.unit


def _grey_clip(n: int = 10, size: int = 32) -> tuple[np.ndarray, bytes]:
    frames = np.stack([np.full((size, size, 3), 20 * k + 10, np.uint8) for k in range(n)])  # (n, S, S, 3)
    return frames, encode_mp4(frames, 5, None)


def test_frame_indices_are_centres_of_equal_parts():
    assert frame_indices(10, 4).tolist() == [1, 3, 6, 8]  # floor((k + .5) * 10 / 4)
    assert frame_indices(3, 6).tolist() == [0, 0, 1, 1, 2, 2]
    with pytest.raises(DecodeError):
        frame_indices(0, 4)


@pytest.mark.parametrize("as_path", [False, True])
def test_load_video_samples_uniformly_and_resizes(tmp_path, as_path):
    frames, data = _grey_clip()
    src = data
    if as_path:
        src = tmp_path / "c.mp4"
        src.write_bytes(data)
    video = load_video(src, 4, 16)
    assert video.shape == (4, 3, 16, 16) and video.dtype == torch.uint8
    expect = torch.tensor([20 * k + 10 for k in [1, 3, 6, 8]], dtype=torch.float32)
    torch.testing.assert_close(video.float().mean(dim=(1, 2, 3)), expect, atol=3, rtol=0)
    f = load_video(src, 4, 16, as_float=True)
    assert f.dtype == torch.float32 and 0 <= f.min() and f.max() <= 1


def test_pyav_fallback_agrees_with_decord():
    _, data = _grey_clip()
    ref = load_video(data, 5, 32).float()
    alt = torch.from_numpy(_video_pyav(data, 5, 32)).permute(0, 3, 1, 2).float()
    assert (ref - alt).abs().mean() < 2


def _tone(sr: int, seconds: float = 1.0, f: float = 440.0) -> np.ndarray:
    return (0.5 * np.sin(2 * np.pi * f * np.arange(int(sr * seconds)) / sr)).astype(np.float32)


def _check_tone(wave: torch.Tensor, seconds: float = 1.0):
    x = wave.numpy()
    assert wave.dtype == torch.float32 and abs(len(x) - 16000 * seconds) < 2200  # AAC priming/padding
    core = x[2000:14000]
    assert abs(np.sqrt(np.mean(core**2)) - 0.5 / np.sqrt(2)) < 0.03  # mean of equal channels keeps level
    spec = np.abs(np.fft.rfft(core))
    assert abs(np.fft.rfftfreq(len(core), 1 / 16000)[spec.argmax()] - 440) < 3


@pytest.mark.parametrize("sr,channels", [(16000, 1), (44100, 2), (8000, 1), (48000, 3)])
def test_load_audio_wav_any_rate_and_channels(sr, channels):
    wav = np.repeat(_tone(sr)[:, None], channels, axis=1)  # (N, C)
    _check_tone(load_audio(encode_wav(wav, sr), 16000))


@pytest.mark.parametrize("sr,channels", [(16000, 1), (22050, 2)])
def test_load_audio_mp4_aac(sr, channels):
    _check_tone(load_audio(encode_mp4(None, 4, _tone(sr), sr, channels)))


def test_load_audio_mp3():
    buf = io.BytesIO()
    sf.write(buf, np.stack([_tone(44100)] * 2, axis=1), 44100, format="MP3")
    _check_tone(load_audio(buf.getvalue()))


def test_load_image():
    img = np.zeros((8, 8, 3), np.uint8)
    img[:, 4:] = (200, 100, 50)
    out = load_image(encode_png(img), 8)
    assert (
        out.shape == (3, 8, 8)
        and out[:, 0, 6].tolist() == [200, 100, 50]
        and out[:, 0, 1].tolist() == [0, 0, 0]
    )


def test_load_mask_binary_grey_and_rgb_and_resize():
    grey = np.array([[0, 1, 128, 255]] * 4, np.uint8)
    assert load_mask(encode_png(grey)).tolist() == [[False, True, True, True]] * 4
    rgb = np.zeros((4, 4, 3), np.uint8)
    rgb[1, 2] = (0, 0, 3)
    m = load_mask(encode_png(rgb))
    assert m.dtype == torch.bool and m.sum() == 1 and m[1, 2]
    big = np.kron(grey, np.ones((2, 2), np.uint8))  # (8, 8)
    assert load_mask(encode_png(big), size=4).tolist() == [[False, True, True, True]] * 4


def test_load_mask_palette():
    palette = [(0, 0, 0), (255, 0, 0), (0, 128, 0)]
    rgb = np.zeros((2, 3, 3), np.uint8)
    rgb[0, 1], rgb[1, 2], rgb[1, 0] = palette[1], palette[2], (9, 9, 9)
    assert load_mask(encode_png(rgb), palette=palette).tolist() == [[0, 1, 0], [0, 0, 2]]


@pytest.mark.parametrize("bad", [b"", b"not a video at all" * 10])
def test_undecodable_raises_decode_error(bad):
    with pytest.raises(DecodeError):
        load_video(bad, 4, 16)
    with pytest.raises(DecodeError):
        load_audio(bad)


def test_video_without_audio_stream():
    _, data = _grey_clip()
    with pytest.raises(DecodeError, match="no audio stream"):
        load_audio(data)


def _slaney_mel(f):
    f = np.asarray(f, dtype=np.float64)
    lin = f / (200.0 / 3)
    return np.where(f >= 1000, 15.0 + np.log(np.maximum(f, 1e-9) / 1000) / (np.log(6.4) / 27), lin)


def _slaney_hz(m):
    m = np.asarray(m, dtype=np.float64)
    return np.where(m >= 15, 1000 * np.exp((m - 15) * np.log(6.4) / 27), m * 200.0 / 3)


def _reference_log_mel(x: np.ndarray, sr: int, n_mels: int, hop: int, n_fft: int) -> np.ndarray:
    """Literal formula: reflect-pad, periodic Hann frames, |rfft|^2, Slaney triangles (area-normalised), log10."""
    pad = np.pad(x, n_fft // 2, mode="reflect")
    win = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)
    frames = np.stack([pad[i * hop : i * hop + n_fft] * win for i in range(1 + len(x) // hop)])
    power = np.abs(np.fft.rfft(frames, axis=1)) ** 2  # (F, n_fft // 2 + 1)
    freqs = np.linspace(0, sr / 2, n_fft // 2 + 1)
    edges = _slaney_hz(np.linspace(_slaney_mel(0), _slaney_mel(sr / 2), n_mels + 2))
    fb = np.zeros((n_mels, len(freqs)))
    for m in range(n_mels):
        lo, c, hi = edges[m : m + 3]
        tri = np.minimum((freqs - lo) / (c - lo), (hi - freqs) / (hi - c))
        fb[m] = np.maximum(tri, 0) * 2.0 / (hi - lo)
    return np.log10(np.maximum(fb @ power.T, 1e-10))  # (n_mels, F)


def test_log_mel_matches_reference():
    rng = np.random.default_rng(0)
    x = (rng.normal(size=8000) * 0.1 + _tone(16000, 0.5)).astype(np.float32)
    got = log_mel(torch.from_numpy(x), 16000, 40, hop=160, n_fft=400)
    ref = _reference_log_mel(x.astype(np.float64), 16000, 40, 160, 400)
    assert got.shape == (40, 1 + 8000 // 160)
    np.testing.assert_allclose(got.numpy(), ref, atol=1e-3)


def test_long_track_is_decoded_over_the_used_window_only():
    """A track over LONG_TRACK_FACTOR x the window is decoded only up to the window (issue 19): the same
    first seconds as the whole decode, without the rest."""
    from crabplus.data.decode import LONG_TRACK_FACTOR, load_audio
    from crabplus.data.encode import encode_mp4

    rate, seconds, window = 16000, 40, 4.0
    assert seconds > LONG_TRACK_FACTOR * window
    n = np.arange(seconds * rate)
    tone = (0.4 * np.sin(2 * np.pi * (300 + 50 * (n // rate % 5)) * n / rate)).astype(np.float32)
    clip = encode_mp4(np.zeros((seconds, 16, 16, 3), np.uint8), 1, tone, rate)
    whole = load_audio(clip, rate)
    windowed = load_audio(clip, rate, max_seconds=window)
    used = int(window * rate)
    assert whole.numel() >= seconds * rate - rate // 10
    assert used <= windowed.numel() < used + rate  # stopped about where the window ends
    torch.testing.assert_close(windowed[:used], whole[:used], atol=2e-3, rtol=0)
    short = load_audio(encode_mp4(None, 1, tone[: 8 * rate], rate), rate, max_seconds=window)
    assert short.numel() >= 8 * rate - rate // 10  # under the factor: decoded whole, as before


@pytest.mark.unit
def test_uint8_resize_is_within_one_level_of_the_float_resize() -> None:
    """The bytes kernel against the float32 one on a textured, non-square clip (72x128 -> 32x32), and a flat
    colour that both must keep exactly."""
    rng = np.random.default_rng(0)
    textured = encode_mp4(rng.integers(0, 256, (8, 72, 128, 3), dtype=np.uint8), 4)
    via_float = load_video(textured, 4, 32)
    via_bytes = load_video(textured, 4, 32, uint8_resize=True)
    assert via_bytes.dtype == torch.uint8 and via_bytes.shape == via_float.shape == (4, 3, 32, 32)
    assert int((via_bytes.int() - via_float.int()).abs().max()) <= 1
    flat = encode_mp4(np.full((4, 72, 128, 3), 128, dtype=np.uint8), 4)
    decoded = load_video(flat, 2, 32, uint8_resize=True)
    assert torch.equal(decoded, load_video(flat, 2, 32))
    assert int((decoded.int() - 128).abs().max()) <= 2  # H.264 keeps a flat grey within a level or two
