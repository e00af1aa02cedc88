"""The registry: files ⇄ names, duplicate and unknown names, required public tasks, contract fields."""

from __future__ import annotations

from pathlib import Path

import pytest

import crabplus.tasks as tasks
from crabplus.tasks._base import Task
from crabplus.tasks._registry import register

pytestmark = pytest.mark.unit

PUBLIC = ["ave", "avvp", "music_avqa", "arig", "s4", "ms3", "avss", "ref_avs", "avcap", "unav100", "ks", "ucf101",
          "cremad", "meld"]  # fmt: skip
SYNTHETIC = [
    "synth_cls",
    "synth_match",
    "synth_loc",
    "synth_avvp",
    "synth_ground",
    "synth_seg",
    "synth_qa",
    "synth_cap",
]
FAMILIES = {
    "recognition",
    "matching",
    "localisation",
    "parsing",
    "grounding",
    "segmentation",
    "qa",
    "captioning",
    "tagging",
}


def test_registry_matches_the_files() -> None:
    folder = Path(tasks.__file__).parent
    files = sorted(p.stem for p in folder.glob("*.py") if not p.stem.startswith("_"))
    assert files == tasks.names()


def test_public_and_synthetic_names_exist() -> None:
    assert set(PUBLIC + SYNTHETIC + ["mer24", "mafw", "dfew", "a2v", "v2a", "avqa", "avvp_weak"]) <= set(
        tasks.names()
    )


def test_unknown_name_lists_valid_names() -> None:
    with pytest.raises(KeyError, match="valid tasks: a2v, arig"):
        tasks.get("nope")


def test_duplicate_registration_is_rejected() -> None:
    with pytest.raises(ValueError, match="already registered"):
        register("ave")(lambda: None)


@pytest.mark.parametrize("name", tasks.names())
def test_contract_fields(name: str) -> None:
    task = tasks.get(name)
    assert isinstance(task, Task) and task.name == name and tasks.get(name) is task
    assert task.family in FAMILIES
    assert task.modalities and set(task.modalities) <= {"video", "audio", "image"}
    assert task.primary_metric in task.higher_is_better
    assert all(isinstance(v, bool) for v in task.higher_is_better.values())
