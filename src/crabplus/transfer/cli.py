"""``crabplus transfer baselines|report|matched|pairs``: the command line of the transfer package.

The top-level ``crabplus`` CLI dispatches ``crabplus transfer ...`` here as ``main(argv)`` with the arguments
after ``transfer``; this module can also be run as ``python -m crabplus.transfer.cli``.
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections.abc import Sequence
from pathlib import Path

from crabplus.transfer._bootstrap import DEFAULT_REPLICATES
from crabplus.transfer._collect import group_runs, recipe_of, select_runs, split_with_results, summarize_runs
from crabplus.transfer._matched import derive_matched_lora
from crabplus.transfer._pairs import pair_matrix
from crabplus.transfer._plots import plot_matrix
from crabplus.transfer._recipe import Recipe
from crabplus.transfer._report import comparison_markdown, report_markdown, write_comparison, write_report
from crabplus.transfer._runner import execute, load_config, plan_runs, resolve_config, write_config
from crabplus.transfer._store import DEFAULT_STORE, ResultsStore

__all__ = ["build_parser", "main"]


def _common(parser: argparse.ArgumentParser, split_default: str | None = "val") -> None:
    parser.add_argument("--store", default=DEFAULT_STORE, help="results store (SQLite file)")
    parser.add_argument(
        "--split",
        default=split_default,
        choices=["val", "test"],
        help="which results to compare"
        + ("" if split_default else " (default: test if both sides have it, else val)"),
    )


def _launch_args(parser: argparse.ArgumentParser, out_dir: str) -> None:
    parser.add_argument("--config", required=True, help="the multitask LightningCLI YAML")
    parser.add_argument("--out-dir", default=out_dir, help="where derived configs and runs go")
    parser.add_argument(
        "--seeds",
        type=int,
        nargs="*",
        default=None,
        help="seeds to run (default: the config's seed_everything)",
    )
    parser.add_argument("--dry-run", action="store_true", help="write the configs, print the commands only")
    parser.add_argument("--test", action="store_true", help="also run `crabplus test` on the last checkpoint")
    parser.add_argument("--jobs", type=int, default=1, help="runs launched at once (default 1)")
    parser.add_argument("--launcher", default=None, help="command that runs crabplus (default: venv script)")
    parser.add_argument(
        "--no-resolve",
        action="store_true",
        help="read the YAML as is instead of `crabplus fit --print_config` (defaults not filled)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="crabplus transfer", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    base = sub.add_parser("baselines", help="derive and run the single-task baselines of a multitask config")
    _launch_args(base, "runs/baselines")
    _common(base)
    report = sub.add_parser(
        "report",
        help="transfer of runs (run names, ids, fingerprints or variant labels) vs "
        "their single-task baselines",
    )
    report.add_argument("runs", nargs="+", metavar="RUN")
    report.add_argument("--out", default="runs/transfer_report", help="output folder for md/csv/png")
    report.add_argument(
        "--baseline-from",
        default=None,
        metavar="RUN",
        help="use this run's recipe for the single-task baselines of every RUN (same baselines)",
    )
    report.add_argument(
        "--bootstrap",
        type=int,
        default=DEFAULT_REPLICATES,
        metavar="B",
        help=f"bootstrap replicates of the 95%% intervals (default {DEFAULT_REPLICATES}; 0: none)",
    )
    _common(report, split_default=None)
    matched = sub.add_parser(
        "matched", help="derive the plain LoRA whose trainable count matches an I-LoRA config"
    )
    matched.add_argument("--config", required=True, help="the I-LoRA multitask LightningCLI YAML")
    matched.add_argument("--out", required=True, help="where the matched-rank LoRA YAML goes")
    matched.add_argument(
        "--run-name", default=None, help="run_name of the derived config (default: <name>_matched)"
    )
    matched.add_argument("--launcher", default=None, help="command that runs crabplus (default: venv script)")
    matched.add_argument("--no-resolve", action="store_true", help="read the YAML as is")
    pairs = sub.add_parser("pairs", help="pairwise transfer matrix from two-task runs")
    _launch_args(pairs, "runs/pairs")
    pairs.add_argument("--run", action="store_true", help="run the missing two-task runs first")
    pairs.add_argument("--out", default="runs/transfer_pairs", help="output folder for the heatmap")
    _common(pairs)
    return parser


def _config(args: argparse.Namespace) -> dict:
    if args.no_resolve:
        return load_config(args.config)
    return resolve_config(args.config, args.launcher.split() if args.launcher else None)


def _plan(args: argparse.Namespace, config: dict, subsets: list[list[str]]) -> int:
    seeds = args.seeds if args.seeds else [config.get("seed_everything")]
    launcher = args.launcher.split() if args.launcher else None
    plans = plan_runs(config, subsets, ResultsStore(args.store), args.out_dir, seeds, args.test, launcher)
    return execute(plans, dry_run=args.dry_run, jobs=getattr(args, "jobs", 1))


def _baselines(args: argparse.Namespace) -> int:
    config = _config(args)
    return 1 if _plan(args, config, [[t] for t in Recipe.from_config(config).tasks]) else 0


def _report(args: argparse.Namespace) -> int:
    store = ResultsStore(args.store)
    if not store.path.exists():
        raise FileNotFoundError(f"results store {store.path} does not exist (pass --store)")
    runs = [run for selector in args.runs for run in select_runs(store, selector)]
    unique = list({r.run_id: r for r in runs}.values())
    baseline = recipe_of(select_runs(store, args.baseline_from)[0], store) if args.baseline_from else None
    groups = group_runs(unique)
    split = args.split
    if split is None:
        found = {label: split_with_results(store, group, baseline) for label, group in groups.items()}
        missing = [label for label, s in found.items() if s is None]
        if missing:
            raise ValueError(
                f"no split with results for both the run and its single-task baselines: "
                f"{', '.join(missing)} (run `crabplus transfer baselines` with the run's config; "
                f"add --test for test results)"
            )
        split = "test" if all(s == "test" for s in found.values()) else "val"
        print(f"split: {split} (the split every run and its baselines have results for)")
    cache: dict = {}
    summaries = {
        label: summarize_runs(store, group, split, baseline, args.bootstrap, cache)
        for label, group in groups.items()
    }
    for label, summary in summaries.items():
        if summary.missing:
            print(
                f"{label}: no single-task baseline with {split} results for {', '.join(summary.missing)}"
                " (left out of Δm)"
            )
    if len(summaries) == 1:
        ((label, summary),) = summaries.items()
        paths = write_report(summary, args.out, title=f"Transfer: {label}")
        print(report_markdown(summary, title=f"Transfer: {label}"))
    else:
        paths = write_comparison(summaries, args.out)
        print(comparison_markdown(summaries))
    print("\n".join(f"wrote {p}" for p in paths.values()))
    return 0


def _matched(args: argparse.Namespace) -> int:
    config = _config(args)
    name = args.run_name or f"{config.get('run_name') or 'ilora'}_matched"
    found = derive_matched_lora(config, run_name=name)
    write_config(found.config, Path(args.out))
    print(found.describe())
    print(f"wrote {args.out} (run_name {name})")
    return 0


def _pairs(args: argparse.Namespace) -> int:
    config = _config(args)
    recipe = Recipe.from_config(config)
    failures = 0
    if args.run or args.dry_run:
        subsets = [[a, b] for i, a in enumerate(recipe.tasks) for b in recipe.tasks[i + 1 :]]
        failures = _plan(args, config, subsets)
    result = pair_matrix(ResultsStore(args.store), recipe, args.split)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    plot_matrix(
        result.tasks,
        result.matrix,
        out / "pairs.png",
        "Pairwise transfer (row trained with column)",
        "relative change of the row task",
        percent=True,
    )
    with (out / "pairs.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["task", *result.tasks])
        writer.writerows([task, *row] for task, row in zip(result.tasks, result.matrix))
    if result.missing_runs:
        print("missing two-task runs: " + ", ".join(f"{a}+{b}" for a, b in result.missing_runs))
    if result.missing_baselines:
        print("missing single-task baselines: " + ", ".join(result.missing_baselines))
    print(f"wrote {out / 'pairs.png'}\nwrote {out / 'pairs.csv'}")
    return 1 if failures else 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: ``main(["report", "run-1", "--store", "runs/results.sqlite"])`` → exit status."""
    args = build_parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    handlers = {"baselines": _baselines, "report": _report, "matched": _matched, "pairs": _pairs}
    try:
        return handlers[args.command](args)
    except (KeyError, ValueError, FileNotFoundError) as err:
        print(f"crabplus transfer {args.command}: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
