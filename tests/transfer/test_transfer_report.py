"""Reports from the tiny store (numbers in tests/transfer/tiny_store.py): summaries, md/csv/png, pairs, CLI."""

import csv

import pytest
from tests.transfer.tiny_store import CONFIG, build_tiny_store

from crabplus.transfer import (
    Recipe,
    pair_matrix,
    recipe_of,
    summarize_runs,
    write_comparison,
    write_report,
)
from crabplus.transfer.cli import main

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture()
def store(tmp_path):
    return build_tiny_store(tmp_path / "results.sqlite")


def seeds_of(store, run_id):
    """All seeds of the recipe of ``run_id``."""
    return store.runs(fingerprint=store.run(run_id).fingerprint)


@pytest.mark.unit
def test_lora_two_seeds(store):
    summary = summarize_runs(store, seeds_of(store, "mt-lora-0"))
    first, second = summary.reports
    assert first.task_change == pytest.approx({"a": 0.10, "b": -0.075, "c": 0.10})
    assert first.delta_m == pytest.approx(0.125 / 3)
    assert second.task_change == pytest.approx({"a": -0.10, "b": 0.15, "c": 0.20})
    assert summary.delta_m.mean == pytest.approx((0.125 / 3 + 0.25 / 3) / 2)
    assert summary.delta_m.std == pytest.approx(abs(0.125 / 3 - 0.25 / 3) / 2**0.5)
    assert summary.positive_share.mean == pytest.approx(2 / 3)
    assert summary.single_task["c"]["acc"] == pytest.approx(0.70)  # seed-mean baseline


@pytest.mark.unit
def test_ilora_against_lora_baselines_reports_missing(store):
    lora = recipe_of(store.run("mt-lora-0"), store)
    summary = summarize_runs(store, seeds_of(store, "mt-ilora-0"), baseline_recipe=lora)
    (report,) = summary.reports
    assert report.task_change == pytest.approx({"a": 0.20, "b": 0.10, "c": -0.20})
    assert report.delta_m == pytest.approx(0.10 / 3)
    assert report.positive_share == pytest.approx(2 / 3)
    assert report.worst_task == "c" and report.worst_drop == pytest.approx(-0.20)
    assert report.missing == ["d"]


@pytest.mark.integration
def test_report_files(store, tmp_path):
    summary = summarize_runs(store, seeds_of(store, "mt-lora-0"))
    paths = write_report(summary, tmp_path / "out")
    text = paths["md"].read_text()
    assert "+6.25% ± 2.95%" in text  # Δm: mean of 4.1667 % and 8.3333 %, sample std 2.946 %
    assert "67%" in text
    rows = list(csv.DictReader(paths["csv"].open()))
    assert [(r["task"], r["metric"]) for r in rows][0] == ("c", "acc")  # best task first (+15 %)
    b_err = next(r for r in rows if r["metric"] == "err")
    assert float(b_err["relative_change"]) == pytest.approx((-0.25 + 0.10) / 2)
    assert b_err["higher_is_better"] == "False"
    assert paths["png"].read_bytes()[:8] == PNG_MAGIC


@pytest.mark.integration
def test_comparison_files(store, tmp_path):
    lora = recipe_of(store.run("mt-lora-0"), store)
    summaries = {
        v: summarize_runs(store, seeds_of(store, f"mt-{v}-0"), baseline_recipe=lora)
        for v in ("lora", "ilora")
    }
    paths = write_comparison(summaries, tmp_path / "cmp")
    text = paths["md"].read_text()
    assert "| task | lora | ilora |" in text
    assert "| d | — | no baseline |" in text
    assert "ilora: d" in text
    assert "One seed (ilora): the intervals cover which val items were drawn" in text  # lora has two
    assert "| val items per task |" in text and "test items" not in text  # summaries of the val split
    assert paths["png"].read_bytes()[:8] == PNG_MAGIC


@pytest.mark.unit
def test_pair_matrix(store):
    result = pair_matrix(store, Recipe.from_config(CONFIG))
    assert result.tasks == ["a", "b", "c"]
    i = {t: k for k, t in enumerate(result.tasks)}
    assert result.matrix[i["a"]][i["b"]] == pytest.approx(-0.10)
    assert result.matrix[i["b"]][i["a"]] == pytest.approx(0.10)  # (+20 % acc, 0 % err)/2
    assert result.matrix[i["a"]][i["a"]] == 0.0
    assert result.missing_runs == [("a", "c"), ("b", "c")]


@pytest.mark.integration
def test_cli_report_and_pairs(store, tmp_path, capsys):
    out = tmp_path / "rep"
    # "lora" selects the 3-task recipe (2 seeds) and the a+b pair run: two groups, three columns.
    assert (
        main(
            [
                "report",
                "lora",
                "ilora",
                "--baseline-from",
                "mt-lora-0",
                "--store",
                str(store.path),
                "--out",
                str(out),
            ]
        )
        == 0
    )
    assert (out / "comparison.md").is_file() and (out / "comparison.png").is_file()
    assert "| **Δm** |" in capsys.readouterr().out
    assert main(["report", "mt-lora-0", "--store", str(store.path), "--out", str(out)]) == 0
    assert (out / "transfer.md").is_file() and (out / "transfer.csv").is_file()
    assert main(["report", "nothing", "--store", str(store.path)]) == 2
    config = tmp_path / "mt.yaml"
    import yaml

    config.write_text(yaml.safe_dump(CONFIG))
    assert (
        main(
            [
                "pairs",
                "--config",
                str(config),
                "--store",
                str(store.path),
                "--out",
                str(tmp_path / "p"),
                "--no-resolve",
            ]
        )
        == 0
    )
    assert (tmp_path / "p" / "pairs.png").read_bytes()[:8] == PNG_MAGIC
    assert "missing two-task runs: a+c, b+c" in capsys.readouterr().out
