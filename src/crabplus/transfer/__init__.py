"""crabplus.transfer: results store, recipe fingerprints, single-task baselines, Δm and transfer reports.

The numbers (relative change, Δm, positive share, worst drop) are defined in :mod:`crabplus.transfer._compare`;
the store schema in :mod:`crabplus.transfer._store`; sample budgets in :mod:`crabplus.transfer._recipe`.
The CLI (``crabplus transfer baselines|report|pairs``) is :func:`crabplus.transfer.cli.main`.
"""

from crabplus.transfer._bootstrap import (
    DEFAULT_REPLICATES,
    Interval,
    ItemSide,
    TaskInterval,
    TransferIntervals,
    bootstrap_task,
    combine_tasks,
    metric_interval_table,
    resampled_metrics,
    verdict,
)
from crabplus.transfer._collect import (
    baselines_for,
    group_runs,
    interval_summary,
    metric_intervals,
    recipe_of,
    select_runs,
    split_with_results,
    summarize_runs,
)
from crabplus.transfer._compare import (
    MeanStd,
    TransferReport,
    TransferSummary,
    compare,
    compare_seeds,
    direction,
    mean_values,
    summarize,
)
from crabplus.transfer._derive import derive_pairs, derive_single_tasks, derive_subset_config
from crabplus.transfer._items import from_json, item_rows, to_json
from crabplus.transfer._matched import MatchedLoRA, derive_matched_lora, trainable_count
from crabplus.transfer._pairs import PairMatrix, pair_matrix
from crabplus.transfer._plots import plot_comparison, plot_matrix, plot_transfer_bars
from crabplus.transfer._recipe import Recipe, fingerprint, init_args, recipe_fingerprint
from crabplus.transfer._report import comparison_markdown, report_markdown, write_comparison, write_report
from crabplus.transfer._runner import load_config
from crabplus.transfer._store import DEFAULT_STORE, SCHEMA_VERSION, ItemRow, ResultRow, ResultsStore, RunInfo

__all__ = [
    "direction",
    "init_args",
    "load_config",
    "MatchedLoRA",
    "derive_matched_lora",
    "trainable_count",
    "DEFAULT_REPLICATES",
    "Interval",
    "ItemRow",
    "ItemSide",
    "TaskInterval",
    "TransferIntervals",
    "bootstrap_task",
    "combine_tasks",
    "from_json",
    "interval_summary",
    "metric_intervals",
    "metric_interval_table",
    "item_rows",
    "resampled_metrics",
    "split_with_results",
    "to_json",
    "verdict",
    "DEFAULT_STORE",
    "SCHEMA_VERSION",
    "MeanStd",
    "PairMatrix",
    "Recipe",
    "ResultRow",
    "ResultsStore",
    "RunInfo",
    "TransferReport",
    "TransferSummary",
    "baselines_for",
    "compare",
    "compare_seeds",
    "comparison_markdown",
    "derive_pairs",
    "derive_single_tasks",
    "derive_subset_config",
    "fingerprint",
    "group_runs",
    "mean_values",
    "pair_matrix",
    "plot_comparison",
    "plot_matrix",
    "plot_transfer_bars",
    "recipe_fingerprint",
    "recipe_of",
    "report_markdown",
    "select_runs",
    "summarize",
    "summarize_runs",
    "write_comparison",
    "write_report",
]
