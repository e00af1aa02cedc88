"""The converter registry and the ``crabplus data convert`` entry point."""

import pkgutil

import pytest

import crabplus.data.converters as conv
from crabplus.data.converters import get, main, names, register


@pytest.mark.unit
def test_registry_matches_modules():
    """Each public module of the package registers exactly the converter of the same name."""
    modules = sorted(m.name for m in pkgutil.iter_modules(conv.__path__) if not m.name.startswith("_"))
    assert names() == modules
    for name in names():
        assert get(name).read.__module__ == f"crabplus.data.converters.{name}"
        assert get(name).doc and get(name).splits and get(name).tasks


@pytest.mark.unit
def test_registry_tasks_are_the_contract_names():
    contract = {
        "ave",
        "avvp",
        "avvp_weak",
        "music_avqa",
        "avqa",
        "arig",
        "s4",
        "ms3",
        "avss",
        "ref_avs",
        "avcap",
        "unav100",
        "ks",
        "ucf101",
        "cremad",
        "meld",
        "mer24",
        "mafw",
        "dfew",
        "a2v",
        "v2a",
    }
    written = {t for n in names() for t in get(n).tasks}
    assert written == contract


@pytest.mark.unit
def test_every_registered_task_has_a_converter():
    """Every task of ``crabplus.tasks`` but the synthetic ones (made by ``crabplus data synth``) is written."""
    from crabplus import tasks

    written = {t for n in names() for t in get(n).tasks}
    assert {t for t in tasks.names() if not t.startswith("synth_")} == written


@pytest.mark.unit
def test_registry_rejects_duplicates_and_names_known():
    with pytest.raises(KeyError, match="already registered"):
        register("ave", tasks=("ave",), splits=("train",))(lambda src, split: iter(()))
    with pytest.raises(KeyError, match="unknown dataset 'avx'; known: a2v, arig, ave"):
        get("avx")


@pytest.mark.unit
def test_cli_usage_errors(tmp_path, capsys):
    assert main(["nope", "--src", str(tmp_path), "--out", str(tmp_path)]) == 2
    assert "unknown dataset 'nope'; known:" in capsys.readouterr().err
    assert main(["ave", "--src", str(tmp_path), "--out", str(tmp_path), "--split", "dev"]) == 2
    assert "unknown split 'dev'; known: train, val, test" in capsys.readouterr().err
    assert main(["ave", "--src", str(tmp_path), "--out", str(tmp_path)]) == 1
    assert "trainSet.txt: annotation file not found" in capsys.readouterr().err


@pytest.mark.unit
def test_help_lists_every_dataset(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    text = capsys.readouterr().out
    assert all(name in text for name in names())


@pytest.mark.integration
def test_data_cli_dispatches_convert(tmp_path, media, put_file, read_shards):
    from crabplus.data.cli import main as data_main

    put_file(tmp_path / "src" / "trainSet.txt", "Dog&vid1&good&0&3\n")
    put_file(tmp_path / "src" / "AVE" / "vid1.mp4", media.mp4)
    argv = [
        "convert",
        "ave",
        "--src",
        str(tmp_path / "src"),
        "--out",
        str(tmp_path / "out"),
        "--maxcount",
        "1",
    ]
    assert data_main(argv) == 0
    assert len(read_shards(tmp_path / "out", "ave", "train")) == 1
