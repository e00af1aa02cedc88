"""Converted shards decode through the data package's reader (``crabplus.data.sample.decode_sample``)."""

import json

import pytest

from crabplus.data.converters import main
from crabplus.data.sample import MediaSpec, decode_sample, modalities_of
from crabplus.data.shards import iter_shard, shard_paths


class _EchoTask:
    """Stand-in for a registered task: the reader only needs the two formatting hooks."""

    def build_prompt(self, meta):
        return json.dumps(meta, sort_keys=True)

    def format_target(self, target, reasoning=None):
        return str(sorted(k for k in target))


def _decoded(root, task, split):
    spec = MediaSpec(num_frames=2, frame_size=16, clip_seconds=1.0, n_mels=16)
    out = []
    for shard in shard_paths(root, task, split):
        for raw in iter_shard(shard):
            mods = modalities_of([k for k in raw if not k.startswith("__") and k != "json"], spec)
            out.append(decode_sample(raw, task, mods, spec, lambda _t: _EchoTask()))
    return out


@pytest.mark.integration
def test_converted_video_and_segmentation_samples_decode(tmp_path, media, put_file):
    src, out = tmp_path / "src", tmp_path / "out"
    put_file(src / "ave" / "trainSet.txt", "Dog&vid1&good&0&3\n")
    put_file(src / "ave" / "AVE" / "vid1.mp4", media.mp4)
    put_file(src / "s4" / "s4_meta_data.csv", "name,category,split\ndogA,dog,train\n")
    data = src / "s4" / "s4_data"
    put_file(data / "audio_wav" / "train" / "dog" / "dogA.wav", media.wav)
    put_file(data / "visual_frames" / "train" / "dog" / "dogA" / "dogA_1.png", media.png)
    put_file(data / "gt_masks" / "train" / "dog" / "dogA" / "dogA_1.png", media.mask)
    assert main(["ave", "--src", str(src / "ave"), "--out", str(out)]) == 0
    assert main(["s4", "--src", str(src / "s4"), "--out", str(out)]) == 0
    (ave,) = _decoded(out, "ave", "train")
    assert ave["video"].shape == (2, 3, 16, 16) and ave["audio"].shape[0] == 16
    (s4,) = _decoded(out, "s4", "train")
    assert s4["image"].shape == (3, 16, 16) and s4["target"]["mask"].shape == (16, 16)
    assert s4["target"]["label"] == "dog" and 0 < s4["target"]["mask"].float().mean() < 1
