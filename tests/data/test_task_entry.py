"""``data.tasks`` entries are typed: misspelt keys and wrong types fail naming ``data.tasks[i].<key>``."""

from __future__ import annotations

import pytest

from crabplus.config_blocks import ConfigError
from crabplus.data import MultiTaskDataModule, TaskEntry

pytestmark = pytest.mark.unit


def test_names_dicts_and_entries_give_the_same_typed_entries():
    dm = MultiTaskDataModule(
        "root", ["a", {"name": "b", "weight": 3.0, "eval": False}, TaskEntry("c", root="other")]
    )
    assert dm.entries == [
        TaskEntry("a"),
        TaskEntry("b", weight=3.0, eval=False),
        TaskEntry("c", root="other"),
    ]
    assert dm.task_names == ["a", "b", "c"]
    assert dm.val_task_names == ["a", "c"]  # b: eval false
    assert [dm.root_of(e) for e in dm.entries] == ["root", "root", "other"]


@pytest.mark.parametrize(
    ("tasks", "message"),
    [
        (
            [{"name": "synth_cls", "weigth": 3.0}],
            "data.tasks[0].weigth: unknown key (did you mean 'weight'?)",
        ),
        (
            ["synth_cls", {"name": "synth_qa", "evl": False}],
            "data.tasks[1].evl: unknown key (did you mean 'eval'?)",
        ),
        ([{"name": "a", "weight": "heavy"}], "data.tasks[0].weight: expected float or null, got 'heavy'"),
        ([{"name": "a", "eval": "no"}], "data.tasks[0].eval: expected bool, got 'no'"),
        ([{"name": "a", "weight": -1.0}], "data.tasks[0].weight: must be a finite number >= 0, got -1.0"),
        ([{"weight": 1.0}], "data.tasks[0].name: missing"),
        ([TaskEntry("a", weight="x")], "data.tasks[0].weight: expected float or null, got 'x'"),
        (["a", "a"], "data.tasks: task(s) ['a'] listed twice"),
        ("a", "data.tasks: expected a list of task entries, got 'a'"),
        ([3], "data.tasks[0]: expected a task name or {name, weight, root, eval}, got 3"),
    ],
)
def test_a_bad_entry_fails_naming_its_key_path(tasks, message):
    with pytest.raises(ConfigError) as err:
        MultiTaskDataModule("root", tasks)
    assert str(err.value).startswith(message), str(err.value)
