"""AVSS is semantic: AVSBench colour-palette masks decode to class ids, and a converted AVSS fixture in the
official layout gives targets whose class maps equal the painted ones (an independent numpy paint)."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from crabplus import tasks
from crabplus.data.converters import main
from crabplus.data.sample import decode_mask
from crabplus.evaluate.trivial import read_targets
from crabplus.tasks.families import AVSBENCH_CLASSES, AVSBENCH_MASK_FORMAT, AVSBENCH_PALETTE

PALETTE_META = {"mask_format": AVSBENCH_MASK_FORMAT}


def _paint(ids: np.ndarray) -> bytes:
    """An RGB png whose pixel colours are the AVSBench palette colours of ``ids``."""
    rgb = np.asarray(AVSBENCH_PALETTE, dtype=np.uint8)[ids]  # (H, W, 3)
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="PNG")
    return buf.getvalue()


def _three_classes(h: int = 12, w: int = 16) -> np.ndarray:
    ids = np.zeros((h, w), dtype=np.int64)  # background
    ids[2:8, 1:6] = AVSBENCH_CLASSES.index("dog")
    ids[5:11, 9:15] = AVSBENCH_CLASSES.index("man")
    return ids


@pytest.mark.unit
def test_palette_rows() -> None:
    assert len(AVSBENCH_CLASSES) == len(AVSBENCH_PALETTE) == 71
    assert AVSBENCH_CLASSES[0] == "background" and AVSBENCH_PALETTE[0] == (0, 0, 0)
    assert len(set(AVSBENCH_PALETTE)) == 71  # every class has its own colour
    # Crab's demo AVSS mask: colour (64, 128, 128) is palette index 14
    assert AVSBENCH_PALETTE[14] == (64, 128, 128) and AVSBENCH_CLASSES[14] == "clarinet"
    assert AVSBENCH_CLASSES[-1] == "woman" and AVSBENCH_PALETTE[1] == (128, 0, 0)


@pytest.mark.unit
def test_palette_mask_with_three_classes_round_trips_to_class_ids() -> None:
    ids = _three_classes()
    decoded = decode_mask(_paint(ids), PALETTE_META, None)
    assert decoded.dtype.is_floating_point is False and decoded.numpy().tolist() == ids.tolist()
    assert sorted(set(decoded.flatten().tolist())) == [0, 17, 41]  # background, dog, man
    # nearest resize keeps labels whole: 12x16 -> 6x8 picks every other pixel
    small = decode_mask(_paint(ids), PALETTE_META, 8)
    assert set(small.flatten().tolist()) <= {0, 17, 41} and small.shape == (8, 8)
    # without the format the same file is just a binary mask
    assert decode_mask(_paint(ids), {}, None).numpy().tolist() == (ids > 0).tolist()


@pytest.mark.unit
def test_semantic_answer_names_each_mask() -> None:
    import torch

    task = tasks.get("avss")
    target = {"label": "dog", "mask": torch.from_numpy(_three_classes())}
    text = task.format_target(target)
    assert text == "<answer><event>dog</event><mask><event>man</event><mask></answer>"
    assert task.parse(text) == {"classes": ["dog", "man"]}
    assert task.parse("<answer><event>dog</event></answer>").get("unparseable")


META_ROWS = (
    "vid,uid,s_min,s_sec,a_obj,split,label\n"
    "-0bRBGXgpAs,-0bRBGXgpAs_0,0,0,man,train,v1s\n"
    "1aBcDeFgHiJ,1aBcDeFgHiJ_30,0,30,dog,test,v2\n"
)


@pytest.mark.integration
def test_avss_fixture_in_official_layout_converts_to_class_maps(tmp_path, media, put_file) -> None:
    src, out = tmp_path / "AVSBench_semantic", tmp_path / "shards"
    put_file(src / "metadata.csv", META_ROWS)
    train = src / "v1s" / "-0bRBGXgpAs_0"
    put_file(train / "audio.wav", media.wav)
    for i in range(5):
        put_file(train / "frames" / f"{i}.jpg", media.jpg)
    put_file(train / "labels_rgb" / "0.png", _paint(_three_classes()))  # v1s train: first frame only
    test = src / "v2" / "1aBcDeFgHiJ_30"
    put_file(test / "audio.wav", media.wav)
    painted = []
    for i in range(10):
        ids = np.zeros((12, 16), dtype=np.int64)
        ids[i : i + 2, :4] = AVSBENCH_CLASSES.index("dog")
        if i % 2:
            ids[6:, 8:] = AVSBENCH_CLASSES.index("guitar")
        painted.append(ids)
        put_file(test / "frames" / f"{i}.jpg", media.jpg)
        put_file(test / "labels_rgb" / f"{i}.png", _paint(ids))
    for split in ("train", "test"):
        assert main(["avss", "--src", str(src), "--out", str(out), "--split", split]) == 0
    (train_target,) = read_targets(out, "avss", "train")
    assert train_target["mask"].numpy().tolist() == _three_classes().tolist()
    test_targets = read_targets(out, "avss", "test")
    assert [t["mask"].numpy().tolist() for t in test_targets] == [p.tolist() for p in painted]
    assert all(t["label"] == "dog" for t in test_targets)
    task = tasks.get("avss")
    assert task.format_target(test_targets[1]) == (
        "<answer><event>dog</event><mask><event>guitar</event><mask></answer>"
    )
    metric = task.make_metric()
    metric.update([{"mask": t["mask"]} for t in test_targets], test_targets)
    scores = metric.compute()
    assert scores["miou_present"] == pytest.approx(1.0)  # a perfect map, 3 classes of 71 occur
    assert scores["miou"] == pytest.approx(3 / 71)
