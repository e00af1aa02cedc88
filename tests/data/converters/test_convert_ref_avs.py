"""Ref-AVS converter: metadata.csv expressions + per-frame masks -> ``ref_avs`` shards."""

import pytest

from crabplus.data.converters import AnnotationError, main
from crabplus.data.converters.ref_avs import read_ref_avs


def _layout(root, put, media, rows: str) -> None:
    put(root / "metadata.csv", "vid,uid,split,fid,exp\n" + rows)
    put(root / "media" / "v1" / "audio.wav", media.wav)
    for i in range(10):
        put(root / "media" / "v1" / "frames" / f"{i}.jpg", media.jpg)
        put(root / "gt_mask" / "v1" / "fid_1" / f"0000{i}.png", media.mask)


@pytest.mark.integration
def test_ref_avs_shards(tmp_path, media, put_file, read_shards):
    src, out = tmp_path / "src", tmp_path / "out"
    _layout(
        src, put_file, media, "v1,v1_1_guitar_0,test_s,1,the guitar being played\nv1,v1_1_man_0,train,1,x\n"
    )
    assert main(["ref_avs", "--src", str(src), "--out", str(out), "--split", "test_s"]) == 0
    samples = read_shards(out, "ref_avs", "test_s")
    assert len(samples) == 10
    assert samples[3]["json"]["target"] == {"label": "guitar"}
    assert samples[3]["json"]["meta"]["expression"] == "the guitar being played"
    assert samples[3]["json"]["meta"]["frame"] == 3
    assert samples[3]["jpg"] == media.jpg and samples[3]["mask.png"] == media.mask and "wav" in samples[3]


@pytest.mark.unit
def test_ref_avs_bad_uid_names_file_and_line(tmp_path, media, put_file):
    _layout(tmp_path, put_file, media, "v1,v1_1_guitar_0,train,1,a\nv1,broken,train,1,b\n")
    with pytest.raises(AnnotationError, match=r"metadata\.csv, line 3: field 'uid' 'broken'"):
        list(read_ref_avs(tmp_path, "train"))
