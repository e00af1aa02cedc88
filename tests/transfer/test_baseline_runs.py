"""The baseline run ids a report pairs items with are the runs that hold the split's results: a baseline's
test process, not its fit (which holds validation rows only) — found by the daily loop (tools/daily_loop.py)."""

from __future__ import annotations

import pytest
from tests.transfer.tiny_store import CONFIG

from crabplus.transfer import Recipe, ResultRow, ResultsStore, RunInfo, baselines_for


@pytest.mark.unit
def test_used_baseline_runs_are_those_with_results_on_the_split(tmp_path):
    store = ResultsStore(tmp_path / "r.sqlite")
    single = Recipe.from_config(CONFIG).single_task("a")
    for run_id, split, value, created in (("fit", "val", 0.3, 1.0), ("test", "test", 0.6, 2.0)):
        store.register_run(RunInfo(run_id, single.fingerprint, "single_task", ("a",), "lora", 0, {},
                                   single.to_dict(), created=created))  # fmt: skip
        store.add_results(
            [ResultRow(run_id, single.fingerprint, "a", "acc", value, True, 10, created, split)]
        )
    values, used = baselines_for(store, Recipe.from_config(CONFIG), "test", tasks=["a"])
    assert values == {"a": {"acc": 0.6}}
    assert used == {"a": ["test"]}  # was ["fit"]: the run list and the filtered values were zipped misaligned
