"""The synthetic balance dataset: contract shapes, labels from scene truth, cache, real-data adapter."""

import numpy as np
import pytest
import torch

from crabplus.data.synth import CLASS_NAMES, SynthWorld, WorldConfig
from crabplus.studies.balance import SynthAVDataModule, batch_labels

pytestmark = pytest.mark.integration


def _small(tmp_path, **kw):
    return SynthAVDataModule(num_train=6, num_val=4, batch_size=3, cache_dir=str(tmp_path), n_mels=16, **kw)


def test_batches_follow_contract_and_labels_are_main_object(tmp_path):
    dm = _small(tmp_path)
    dm.setup()
    batch = next(iter(dm.val_dataloader()))
    assert batch["video"].shape == (3, 4, 3, 32, 32) and batch["video"].dtype == torch.float32
    assert 0.0 <= batch["video"].min() and batch["video"].max() <= 1.0
    assert batch["audio"].shape == (3, 16, 81)  # 4 s at 16 kHz, hop 800 -> 1 + 64000 // 800 frames
    world = SynthWorld(WorldConfig(**dm.world_kwargs))
    expected = [CLASS_NAMES.index(world.scene(i).main.label) for i in (6, 7, 8)]  # val follows train
    assert batch["label"].tolist() == expected
    assert [t["label"] for t in batch["target"]] == [CLASS_NAMES[i] for i in expected]
    frames = world.render(world.scene(6)).frames  # (T, S, S, 3) uint8
    assert torch.allclose(batch["video"][0], torch.from_numpy(frames).permute(0, 3, 1, 2).float() / 255)


def test_cache_is_reused(tmp_path):
    calls = []

    def fake_mel(wave: np.ndarray, sr: int, n_mels: int) -> torch.Tensor:
        calls.append(1)
        return torch.zeros(n_mels, 5)

    _small(tmp_path, mel_fn=fake_mel).setup()
    assert len(calls) == 10 and len(list(tmp_path.glob("synth-*.pt"))) == 1
    _small(tmp_path, mel_fn=fake_mel).setup()
    assert len(calls) == 10  # second setup read the cache


@pytest.mark.unit
def test_batch_labels_adapter_for_multitask_batches():
    batch = {"audio": torch.zeros(2, 4, 4), "target": [{"label": "b"}, {"label": "a"}], "key": ["k0", "k1"]}
    assert batch_labels(batch, ["a", "b"]).tolist() == [1, 0]
    assert batch_labels({"audio": torch.zeros(1), "target": [{"label": 3}]}).tolist() == [3]
    with pytest.raises(KeyError, match="k1"):
        batch_labels({**batch, "target": [{"label": "a"}, {"label": "zzz"}]}, ["a", "b"])
