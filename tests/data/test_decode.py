"""Decoders against known inputs: frame sampling, resampling/downmix, masks, and log-mel vs a numpy reference."""

from __future__ import annotations

import io

import numpy as np
import pytest
import soundfile as sf
import torch

from crabplus.data.decode import (
    DecodeError,
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


def _textured_clip(seconds: int = 12, fps: int = 5, width: int = 128, height: int = 72) -> bytes:
    """A panning random texture (every frame differs), at a width decord2 reads (a multiple of 64)."""
    rng = np.random.default_rng(7)
    scene = rng.integers(0, 256, (height, width + 2 * seconds * fps, 3), dtype=np.uint8)
    return encode_mp4(np.stack([scene[:, 2 * t : 2 * t + width] for t in range(seconds * fps)]), fps)


@pytest.mark.parametrize("seek_gap", [5.0, 0.1])
def test_pyav_sampling_equals_decords(seek_gap, monkeypatch):
    """PyAV's frames (decoding on, or seeking before every sampled frame) are decord's, byte for byte."""
    from crabplus.data import decode

    monkeypatch.setattr(decode, "SEEK_GAP_SECONDS", seek_gap)
    data = _textured_clip()
    for count in (7, 60, 75):  # spread out, every frame, more than the clip has (repeats)
        expected = decode._video_decord(data, count)
        assert expected.shape == (count, 72, 128, 3)
        np.testing.assert_array_equal(decode._video_pyav(data, count), expected)


def test_frames_are_counted_in_order_when_a_stream_has_no_timing():
    """The fallback for streams without a frame rate or time base: frames by their decode order."""
    from crabplus.data.decode import _frames_by_count, frame_indices

    class Frame:
        def __init__(self, k):
            self.k = k

        def to_ndarray(self, format):
            return np.full((2, 2, 3), self.k, np.uint8)

    decoded = []
    frames = (decoded.append(k) or Frame(k) for k in range(10))
    got = _frames_by_count(frames, frame_indices(10, 4))  # frames 1, 3, 6, 8
    assert [int(f[0, 0, 0]) for f in got] == [1, 3, 6, 8] and decoded == list(range(9))  # stopped after 8
    short = _frames_by_count((Frame(k) for k in range(3)), frame_indices(6, 2))  # header said 6, clip has 3
    assert [int(f[0, 0, 0]) for f in short] == [1, 1]  # frame 4 is missing: the last one picked stands in


def test_long_clips_are_decoded_by_seeking(monkeypatch):
    """A clip over LONG_CLIP_SECONDS never reaches decord (whose frame index reads the whole file) and
    gives the frames decord gives."""
    from crabplus.data import decode

    data = _textured_clip()
    expected = load_video(data, 6, 32, uint8_resize=True)
    monkeypatch.setattr(decode, "LONG_CLIP_SECONDS", 10.0)
    monkeypatch.setattr(decode, "_video_decord", lambda *a: pytest.fail("decord indexed a long clip"))
    assert torch.equal(load_video(data, 6, 32, uint8_resize=True), expected)


def test_mp4_seconds_reads_the_header(tmp_path):
    from crabplus.data.mp4_header import mp4_seconds

    assert mp4_seconds(_textured_clip(seconds=3)) == pytest.approx(3.0, abs=0.05)
    (tmp_path / "clip.mp4").write_bytes(_textured_clip(seconds=2))
    assert mp4_seconds(tmp_path / "clip.mp4") == pytest.approx(2.0, abs=0.05)
    assert mp4_seconds(encode_mp4(None, 1, _tone(16000, 2.5), 16000)) == pytest.approx(2.5, abs=0.1)
    for not_mp4 in (
        b"",
        b"not a video" * 10,
        encode_wav(_tone(16000), 16000),
        encode_png(np.zeros((4, 4), np.uint8)),
    ):
        assert mp4_seconds(not_mp4) is None


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


def test_audio_is_decoded_over_the_used_window_only():
    """With ``max_seconds`` decoding stops about where the window ends (issue 19: a 10-minute clip costs what
    a short one does): the same first seconds as the whole decode, without the rest."""
    from crabplus.data.encode import encode_mp4

    rate, seconds, window = 16000, 40, 4.0
    n = np.arange(seconds * rate)
    tone = (0.4 * np.sin(2 * np.pi * (300 + 50 * (n // rate % 5)) * n / rate)).astype(np.float32)
    clip = encode_mp4(np.zeros((seconds, 16, 16, 3), np.uint8), 1, tone, rate)
    whole = load_audio(clip, rate)
    windowed = load_audio(clip, rate, max_seconds=window)
    used = int(window * rate)
    assert whole.numel() >= seconds * rate - rate // 10
    assert used <= windowed.numel() < used + rate  # stopped about where the window ends
    assert torch.equal(windowed[:used], whole[:used])
    short = load_audio(encode_mp4(None, 1, tone[: 2 * rate], rate), rate, max_seconds=window)
    assert (
        2 * rate - rate // 10 <= short.numel() < 2 * rate + rate // 10
    )  # shorter than the window: all of it


@pytest.mark.parametrize("source_rate", [44100, 16000])
def test_audio_samples_equal_decords(source_rate):
    """The samples equal decord's ``AudioReader`` (the decoder used before; both resample with
    libswresample), for a resampled 44.1 kHz stereo AAC track and a 16 kHz one, averaged to mono."""
    import decord

    rng = np.random.default_rng(source_rate)
    n = np.arange(3 * source_rate)
    tone = 0.3 * np.sin(2 * np.pi * 440 * n / source_rate) + 0.05 * rng.standard_normal(n.size)
    clip = encode_mp4(np.zeros((3, 16, 16, 3), np.uint8), 1, tone.astype(np.float32), source_rate, channels=2)
    reader = decord.AudioReader(io.BytesIO(clip), ctx=decord.cpu(0), sample_rate=16000, mono=False)
    reference = np.clip(reader[:].asnumpy().mean(axis=0), -1, 1).astype(np.float32)
    got = load_audio(clip, 16000).numpy()
    assert got.shape == reference.shape
    np.testing.assert_array_equal(got, reference)


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
