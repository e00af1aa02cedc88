"""An AVSS batch through the real path: converted palette masks → data module (class maps) → forward
with a mask loss over every <mask> → predictions carrying one map per <mask> → the AVSBench metric."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from tests.data.converters.conftest import put
from tests.data.converters.test_avss_semantic import _paint
from tests.model.test_generate import forced_tokens

from crabplus import tasks
from crabplus.data import MultiTaskDataModule
from crabplus.data.converters import main as convert_main
from crabplus.data.encode import encode_png, encode_wav
from crabplus.data.sample import MediaSpec
from crabplus.tasks.families import AVSBENCH_CLASSES

pytestmark = pytest.mark.integration
DOG, MAN = AVSBENCH_CLASSES.index("dog"), AVSBENCH_CLASSES.index("man")


@pytest.fixture
def avss_shards(tmp_path):
    src = tmp_path / "AVSBench_semantic"
    put(src / "metadata.csv", "vid,uid,s_min,s_sec,a_obj,split,label\nv0,v0_0,0,0,dog,train,v1m\n")
    frame = np.random.default_rng(0).integers(0, 255, size=(32, 32, 3), dtype=np.uint8)
    put(src / "v1m" / "v0_0" / "audio.wav", encode_wav(np.zeros(16000, dtype=np.float32), 16000))
    for i in range(2):
        ids = np.zeros((32, 32), dtype=np.int64)
        ids[:16, :16] = DOG
        ids[20:, 20:] = MAN if i else 0
        put(src / "v1m" / "v0_0" / "frames" / f"{i}.png", encode_png(frame))
        put(src / "v1m" / "v0_0" / "labels_rgb" / f"{i}.png", _paint(ids))
    assert (
        convert_main(["avss", "--src", str(src), "--out", str(tmp_path / "shards"), "--split", "train"]) == 0
    )
    return tmp_path / "shards"


def test_avss_batch_trains_and_scores(avss_shards) -> None:
    from crabplus.train import AVLLMModule

    dm = MultiTaskDataModule(
        str(avss_shards), ["avss"], batch_size=2, num_workers=0, shuffle_buffer=1,
        media=MediaSpec(frame_size=32, clip_seconds=1.0), num_batches=1,
    )  # fmt: skip
    dm.setup("fit")
    batch = next(iter(dm.train_dataloader()))
    assert batch["mask"].dtype == torch.long
    assert sorted(batch["mask"].unique().tolist()) == [0, DOG, MAN]
    assert any(a.count("<mask>") == 2 for a in batch["answer"])  # dog and man each get their <mask>
    module = AVLLMModule(preset="tiny-modular")
    out = module.forward(batch)
    assert out.mask_loss is not None and torch.isfinite(out.loss)
    tok = module.model.tokenizer
    script = tok(
        "<answer><event>dog</event><mask><event>man</event><mask></answer>", add_special_tokens=False
    )
    with forced_tokens(module.model, script["input_ids"] + [tok.eos_token_id]):
        preds = module.eval().predict_batch(batch)
    assert [p["classes"] for p in preds] == [["dog", "man"]] * 2 and preds[0]["mask"].shape == (2, 32, 32)
    metric = tasks.get("avss").make_metric()
    metric.update(preds, batch["target"])
    scores = metric.compute()
    assert 0.0 <= scores["miou"] <= scores["miou_present"] <= 1.0
