"""Reservoir replay buffer: bounded size, uniform inclusion M/n, compact storage, state round trip."""

import pytest
import torch

from crabplus.studies.continual import ReservoirBuffer

pytestmark = pytest.mark.unit


def _batch(start: int, n: int) -> dict:
    ids = torch.arange(start, start + n, dtype=torch.float32)
    return {"id": ids[:, None], "video": torch.full((n, 2, 2), 0.5)}


def test_fills_then_stays_bounded():
    buf = ReservoirBuffer(3, seed=0)
    buf.add(_batch(0, 2))
    assert len(buf) == 2 and buf.num_seen == 2
    assert buf.fields["id"][:2, 0].tolist() == [0.0, 1.0]  # slots filled in order while there is room
    buf.add(_batch(2, 5))
    assert len(buf) == 3 and buf.num_seen == 7 and buf.fields["id"].shape == (3, 1)


def test_inclusion_probability_is_m_over_n():
    # after 10 clips with M = 3, every clip is stored with probability 3/10
    trials, counts = 1500, torch.zeros(10)
    for seed in range(trials):
        buf = ReservoirBuffer(3, seed=seed)
        for i in range(10):
            buf.add(_batch(i, 1))
        counts[buf.fields["id"][:, 0].long()] += 1
    torch.testing.assert_close(counts / trials, torch.full((10,), 0.3), atol=0.04, rtol=0)


def test_uint8_and_fp16_storage():
    buf = ReservoirBuffer(4, {"video": torch.uint8, "id": torch.float16})
    buf.add(_batch(0, 2))
    assert buf.fields["video"].dtype == torch.uint8 and buf.fields["id"].dtype == torch.float16
    out = buf.sample(2)
    assert out["video"].dtype == torch.float32
    torch.testing.assert_close(out["video"], torch.full((2, 2, 2), 128 / 255))  # 0.5 -> round(127.5) = 128
    assert sorted(out["id"][:, 0].tolist()) == [0.0, 1.0]


def test_sample_without_replacement_and_empty_error():
    buf = ReservoirBuffer(8, seed=1)
    with pytest.raises(RuntimeError, match="empty"):
        buf.sample(2)
    buf.add(_batch(0, 5))
    ids = buf.sample(10)["id"][:, 0].tolist()
    assert sorted(ids) == [0.0, 1.0, 2.0, 3.0, 4.0]


def test_state_dict_round_trip_continues_identically():
    a = ReservoirBuffer(3, {"video": torch.uint8}, seed=5)
    a.add(_batch(0, 6))
    b = ReservoirBuffer(3, {"video": torch.uint8}, seed=99)
    b.load_state_dict(a.state_dict())
    assert b.num_seen == 6 and torch.equal(a.fields["id"], b.fields["id"])
    a.add(_batch(6, 10))
    b.add(_batch(6, 10))
    assert torch.equal(a.fields["id"], b.fields["id"])


def test_errors_name_the_problem():
    buf = ReservoirBuffer(2)
    buf.add(_batch(0, 1))
    with pytest.raises(KeyError, match="fields"):
        buf.add({"id": torch.zeros(1, 1)})
    with pytest.raises(ValueError, match="capacity"):
        ReservoirBuffer(2).load_state_dict(ReservoirBuffer(3).state_dict())
