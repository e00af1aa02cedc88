"""``crabplus data inspect``: what a folder of converted (or synthetic) shards holds, before GPU days go into it.

For every ``<root>/<task>/<split>/`` with an ``index.json``: sample count (and the index's), the rows the
converter skipped by reason (``skipped.jsonl`` beside the shards: ``file``, ``line``, ``reason``), a label
histogram (``label``, ``answer``, event labels, semantic mask classes), span / box / mask statistics, media
durations and resolutions per file kind, and a contact sheet of the first decodable samples (frames with
the mask or box drawn on top, waveform with the spans shaded, log-mel). Written to ``<out>/summary.json``,
``<out>/summary.md`` and ``<out>/<task>_<split>.png``.

Decision: the inspector reads shards as they are stored (json + raw media bytes) through the data package's
own decoders, so what it shows is what the loaders will see; it imports nothing above ``data``.
"""

from __future__ import annotations

import io
import json
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from crabplus.data.decode import DecodeError, load_audio, log_mel
from crabplus.data.sample import decode_mask
from crabplus.data.shards import iter_shard, read_index, shard_paths
from crabplus.tasks.families import AVSBENCH_CLASSES, AVSBENCH_MASK_FORMAT, AVSBENCH_PALETTE

__all__ = ["inspect_root", "summarise_split", "find_splits", "render_sheet", "SKIPPED_FILE"]

SKIPPED_FILE = "skipped.jsonl"
_AUDIO = ("wav", "mp3", "flac")
_IMAGES = ("png", "jpg")
_SHEET_SAMPLES = 3
_SAMPLE_RATE = 16000


def find_splits(root: Path, task: str | None = None) -> list[tuple[str, str]]:
    """``(task, split)`` pairs under ``root`` that have an ``index.json``, sorted; only ``task`` if given."""
    pairs = sorted((p.parent.parent.name, p.parent.name) for p in root.glob("*/*/index.json"))
    return [(t, s) for t, s in pairs if task is None or t == task]


def read_skipped(folder: Path) -> Counter:
    """Skipped rows by reason from ``folder/skipped.jsonl`` (empty when the file is absent)."""
    path = folder / SKIPPED_FILE
    counts: Counter = Counter()
    if not path.is_file():
        return counts
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            counts[str(json.loads(line)["reason"])] += 1
        except (ValueError, KeyError, TypeError) as err:
            raise ValueError(f"{path}, line {number}: not a skipped-row record ({err})") from err
    return counts


def _stats(values: list[float]) -> dict[str, float] | None:
    if not values:
        return None
    return {
        "count": len(values),
        "min": float(min(values)),
        "mean": float(sum(values) / len(values)),
        "max": float(max(values)),
    }


def _labels(target: dict) -> list[str]:
    """The label-like strings of a target: label / answer, event labels, video-level event sets."""
    out = [str(target[k]) for k in ("label", "answer") if isinstance(target.get(k), str)]
    for key in ("events", "audio", "visual"):
        for event in target.get(key) or []:
            if isinstance(event, (list, tuple)) and event and isinstance(event[0], str):
                out.append(event[0])
    out += [str(x) for x in target.get("labels") or [] if isinstance(x, str)]
    return out


def _spans(target: dict) -> list[float]:
    """Lengths in seconds of the target's spans (``segments`` and ``[label, s, e]`` events)."""
    spans = [e - s for s, e in target.get("segments") or []]
    for key in ("events", "audio", "visual"):
        spans += [float(ev[2]) - float(ev[1]) for ev in target.get(key) or [] if len(ev) == 3]
    return spans


def _media_info(ext: str, data: bytes) -> tuple[float | None, str | None]:
    """(duration in seconds, ``WxH``) of one media member; None where it does not apply or cannot be read."""
    if ext in _IMAGES or ext == "mask.png":
        from PIL import Image

        with Image.open(io.BytesIO(data)) as img:
            return None, f"{img.width}x{img.height}"
    import av

    with av.open(io.BytesIO(data)) as container:
        duration = container.duration / 1e6 if container.duration else None
        video = next(iter(container.streams.video), None)
        size = f"{video.codec_context.width}x{video.codec_context.height}" if video is not None else None
        return duration, size


class _SplitStats:
    """Accumulates one split's statistics sample by sample."""

    def __init__(self) -> None:
        self.samples = 0
        self.labels: Counter = Counter()
        self.spans: list[float] = []
        self.box_areas: list[float] = []
        self.mask_fg: list[float] = []
        self.mask_classes: Counter = Counter()
        self.durations: dict[str, list[float]] = {}
        self.resolutions: dict[str, Counter] = {}
        self.unreadable: Counter = Counter()

    def add(self, raw: dict) -> None:
        self.samples += 1
        record = json.loads(raw["json"])
        target, meta = record.get("target") or {}, record.get("meta") or {}
        self.labels.update(_labels(target))
        self.spans += _spans(target)
        box = target.get("box")
        if box:
            self.box_areas.append(max(0.0, box[2] - box[0]) * max(0.0, box[3] - box[1]))
        for ext in [k for k in raw if not k.startswith("__") and k != "json"]:
            try:
                duration, size = _media_info(ext, raw[ext])
            except Exception as err:  # noqa: BLE001 - any undecodable member is counted, not fatal
                self.unreadable[f"{ext}: {type(err).__name__}"] += 1
                continue
            if duration is not None:
                self.durations.setdefault(ext, []).append(duration)
            if size is not None:
                self.resolutions.setdefault(ext, Counter())[size] += 1
        if "mask.png" in raw:
            try:
                mask = decode_mask(raw["mask.png"], meta, None)
            except DecodeError:
                return
            self.mask_fg.append(float((mask != 0).float().mean()))
            if mask.dtype != torch.bool:
                names = AVSBENCH_CLASSES if meta.get("mask_format") == AVSBENCH_MASK_FORMAT else None
                for i in sorted(set(mask.flatten().tolist()) - {0}):
                    self.mask_classes[names[i] if names and i < len(names) else str(i)] += 1

    def summary(self) -> dict[str, Any]:
        masks = _stats(self.mask_fg)
        if masks is not None:
            masks = {**masks, "empty": sum(v == 0 for v in self.mask_fg)}
        return {
            "samples": self.samples,
            "labels": dict(self.labels.most_common()),
            "spans_s": _stats(self.spans),
            "box_area": _stats(self.box_areas),
            "mask_foreground_share": masks,
            "mask_classes": dict(self.mask_classes.most_common()),
            "media": {
                ext: {
                    "duration_s": _stats(self.durations.get(ext, [])),
                    "resolutions": dict(self.resolutions.get(ext, Counter()).most_common()),
                }
                for ext in sorted(set(self.durations) | set(self.resolutions))
            },
            "unreadable_media": dict(self.unreadable),
        }


def summarise_split(root: Path, task: str, split: str) -> tuple[dict[str, Any], list[dict]]:
    """The statistics of one split and its first samples (raw, for the contact sheet)."""
    stats, first = _SplitStats(), []
    for path in shard_paths(root, task, split):
        for raw in iter_shard(path):
            stats.add(raw)
            if len(first) < 4 * _SHEET_SAMPLES:
                first.append(raw)
    index = read_index(root, task, split)
    skipped = read_skipped(root / task / split)
    summary = {
        "task": task,
        "split": split,
        "index_samples": index.get("num_samples"),
        "skipped": dict(skipped.most_common()),
        "skipped_total": sum(skipped.values()),
        **stats.summary(),
    }
    return summary, first


# ---------------------------------------------------------------------------------------------- rendering
def _frames(raw: dict, count: int) -> list[np.ndarray]:
    """Up to ``count`` RGB frames (H, W, 3) uint8: the image, or frames sampled over the video."""
    from PIL import Image

    for ext in _IMAGES:
        if ext in raw:
            with Image.open(io.BytesIO(raw[ext])) as img:
                return [np.asarray(img.convert("RGB"))]
    if "mp4" in raw:
        from crabplus.data.decode import load_video

        video = load_video(raw["mp4"], count, 128)  # (T, 3, S, S) uint8
        return [f.permute(1, 2, 0).numpy() for f in video]
    return []


def _overlay(frame: np.ndarray, raw: dict, meta: dict) -> np.ndarray:
    """The frame with the target mask painted on top (class colours, or cyan for a binary mask)."""
    if "mask.png" not in raw:
        return frame
    mask = decode_mask(raw["mask.png"], meta, None).numpy()
    if mask.shape != frame.shape[:2]:
        from PIL import Image

        mask = np.asarray(Image.fromarray(mask.astype(np.uint8)).resize(frame.shape[1::-1], Image.NEAREST))
    if mask.dtype == bool:
        colour = np.zeros_like(frame)
        colour[..., 1:] = 255  # cyan: stands out against the world's warm-coloured objects
        paint = mask
    else:
        palette = np.asarray(AVSBENCH_PALETTE, dtype=np.uint8)
        colour = palette[np.clip(mask, 0, len(palette) - 1)]
        paint = mask != 0
    out = frame.copy()
    out[paint] = (0.35 * frame[paint] + 0.65 * colour[paint]).astype(np.uint8)
    return out


def _audio(raw: dict) -> np.ndarray | None:
    src = next((raw[e] for e in (*_AUDIO, "mp4") if e in raw), None)
    if src is None:
        return None
    try:
        return load_audio(src, _SAMPLE_RATE).numpy()
    except DecodeError:
        return None


def _title(key: str, target: dict) -> str:
    text = {k: v for k, v in target.items() if k != "mask"}
    words = json.dumps(text, ensure_ascii=False)
    return f"{key}: {words[:110]}{'…' if len(words) > 110 else ''}"


def _decodable(samples: Iterable[dict], frames: int) -> list[tuple[dict, dict, list, np.ndarray | None]]:
    """``(raw, record, frames, waveform)`` of the first samples whose json and frames decode."""
    rows = []
    for raw in samples:
        try:
            record = json.loads(raw["json"])
            rows.append((raw, record, _frames(raw, frames), _audio(raw)))
        except (DecodeError, ValueError, OSError):
            continue
        if len(rows) == _SHEET_SAMPLES:
            break
    return rows


def _draw_frames(axes, pics: list[np.ndarray], raw: dict, target: dict, meta: dict) -> None:
    """Frames with the target mask painted and the target box outlined."""
    from matplotlib.patches import Rectangle

    for ax, pic in zip(axes, pics):
        pic = _overlay(pic, raw, meta)
        ax.imshow(pic)
        box = target.get("box")
        if box:
            h, w = pic.shape[:2]
            corner, size = (box[0] * w, box[1] * h), ((box[2] - box[0]) * w, (box[3] - box[1]) * h)
            ax.add_patch(Rectangle(corner, *size, fill=False, edgecolor="yellow", linewidth=2))
    for ax in axes:
        ax.axis("off")


def _draw_audio(wave_ax, mel_ax, wave: np.ndarray | None, target: dict) -> None:
    """Waveform with the target's spans shaded (segments orange, events green) and its log-mel."""
    wave_ax.set_title("waveform", fontsize=7)
    mel_ax.set_title("log-mel", fontsize=7)
    mel_ax.axis("off")
    if wave is None or not wave.size:
        return
    wave_ax.plot(np.arange(wave.size) / _SAMPLE_RATE, wave, linewidth=0.4)
    for s, e in target.get("segments") or []:
        wave_ax.axvspan(s, e, color="orange", alpha=0.3)
    for key in ("events", "audio", "visual"):
        for ev in target.get(key) or []:
            if len(ev) == 3:
                wave_ax.axvspan(float(ev[1]), float(ev[2]), color="green", alpha=0.2)
    mel_ax.imshow(log_mel(torch.from_numpy(wave), _SAMPLE_RATE, 64).numpy(), origin="lower", aspect="auto")


def render_sheet(samples: Iterable[dict], path: Path, frames: int = 3) -> int:
    """A contact sheet of up to three decodable samples: one row each (frames with the target drawn on top,
    waveform with spans shaded, log-mel). Returns the number of rows drawn (0: no png written)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = _decodable(samples, frames)
    if not rows:
        return 0
    frames = max(1, *(len(pics) for _, _, pics, _ in rows))  # an image sample has one "frame"
    cols = frames + 2
    fig, axes = plt.subplots(len(rows), cols, figsize=(2.6 * cols, 2.6 * len(rows)), squeeze=False)
    for r, (raw, record, pics, wave) in enumerate(rows):
        target, meta = record.get("target") or {}, record.get("meta") or {}
        _draw_frames(axes[r][:frames], pics, raw, target, meta)
        _draw_audio(axes[r][frames], axes[r][frames + 1], wave, target)
        axes[r][0].set_title(_title(raw["__key__"], target), fontsize=6, loc="left")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return len(rows)


# ---------------------------------------------------------------------------------------------- reports
def _markdown(summaries: list[dict[str, Any]]) -> str:
    lines = ["# data inspect", ""]
    for s in summaries:
        lines += [f"## {s['task']} / {s['split']}", ""]
        lines.append(f"- samples: {s['samples']} (index.json: {s['index_samples']})")
        skipped = ", ".join(f"{r}: {n}" for r, n in s["skipped"].items()) or "none"
        lines.append(f"- skipped rows: {s['skipped_total']} ({skipped})")
        top = list(s["labels"].items())[:20]
        if top:
            lines.append("- labels: " + ", ".join(f"{k} {v}" for k, v in top))
        for name, key in (
            ("spans (s)", "spans_s"),
            ("box area", "box_area"),
            ("mask foreground", "mask_foreground_share"),
        ):
            if s[key]:
                st = s[key]
                lines.append(
                    f"- {name}: n {st['count']}, min {st['min']:.3f}, mean {st['mean']:.3f}, max {st['max']:.3f}"
                )
        if s["mask_classes"]:
            lines.append(
                "- mask classes (frames): " + ", ".join(f"{k} {v}" for k, v in s["mask_classes"].items())
            )
        for ext, info in s["media"].items():
            d = info["duration_s"]
            dur = f"duration {d['min']:.2f}–{d['max']:.2f} s (mean {d['mean']:.2f})" if d else ""
            res = ", ".join(f"{k} ×{v}" for k, v in info["resolutions"].items())
            lines.append(f"- {ext}: {dur}{'; ' if dur and res else ''}{res}")
        if s["unreadable_media"]:
            lines.append(
                "- unreadable media: " + ", ".join(f"{k} {v}" for k, v in s["unreadable_media"].items())
            )
        if s.get("sheet"):
            lines.append(f"- samples: ![{s['task']} {s['split']}]({s['sheet']})")
        lines.append("")
    return "\n".join(lines)  # fmt: skip


def inspect_root(root: str | Path, out: str | Path | None = None, task: str | None = None) -> list[dict]:
    """Summarise every split under ``root`` (or only ``task``'s); write the reports into ``out``.

    ``out`` defaults to ``<root>/_inspect``. Returns the per-split summaries.

    Raises:
        FileNotFoundError: no ``<task>/<split>/index.json`` under ``root`` (for ``task``, if given).
    """
    root = Path(root)
    out = Path(out) if out is not None else root / "_inspect"
    pairs = find_splits(root, task)
    if not pairs:
        what = f"task {task!r}" if task else "any task"
        raise FileNotFoundError(f"{root}: no <task>/<split>/index.json for {what}")
    summaries = []
    for name, split in pairs:
        summary, first = summarise_split(root, name, split)
        sheet = out / f"{name}_{split}.png"
        summary["sheet"] = sheet.name if render_sheet(first, sheet) else None
        summaries.append(summary)
    out.mkdir(parents=True, exist_ok=True)
    (out / "summary.json").write_text(json.dumps(summaries, indent=2, ensure_ascii=False))
    (out / "summary.md").write_text(_markdown(summaries))
    return summaries
