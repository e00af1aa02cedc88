"""``crabplus data ...`` subcommands: ``synth`` (synthetic shards), ``convert`` (public datasets) and
``inspect`` (what a shard folder holds: counts, skipped rows, statistics, a contact sheet).

The top-level CLI hands ``argv`` (after ``data``) to ``main``. ``convert`` is dispatched to
``crabplus.data.converters.main``, imported lazily so that ``synth`` works without the converters.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from crabplus.overrides import flags_to_dotlist

__all__ = ["main", "build_parser"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="crabplus data", description="Build datasets as WebDataset shards.")
    sub = parser.add_subparsers(dest="command", required=True)
    synth = sub.add_parser("synth", help="write the synthetic audio-visual world's task shards")
    synth.add_argument("--out", required=True, help="output root (<out>/<task>/<split>/shard-*.tar)")
    synth.add_argument("--config", default=None, help="YAML, e.g. configs/data/synth.yaml")
    synth.add_argument(
        "--split",
        action="append",
        default=None,
        help="split to write, repeatable or comma-separated (default: all configured)",
    )
    synth.add_argument("--workers", type=int, default=1, help="parallel processes")
    synth.add_argument(
        "overrides", nargs="*", help="config overrides: --splits.train 16 (or the dotlist splits.train=16)"
    )
    sub.add_parser(
        "convert", help="convert a public dataset (see `crabplus data convert --help`)", add_help=False
    )
    inspect = sub.add_parser(
        "inspect", help="summarise shards: counts, skipped rows, statistics, sample sheet"
    )
    inspect.add_argument("dir", help="shard root (<dir>/<task>/<split>/index.json)")
    inspect.add_argument("--task", default=None, help="only this task (default: every task under DIR)")
    inspect.add_argument("--out", default=None, help="report folder (default: DIR/_inspect)")
    return parser


def _inspect(args: argparse.Namespace) -> int:
    from crabplus.data.inspector import inspect_root

    try:
        summaries = inspect_root(args.dir, args.out, args.task)
    except (FileNotFoundError, ValueError) as err:
        print(f"crabplus data inspect: error: {err}", file=sys.stderr)
        return 2
    for s in summaries:
        skipped = f", {s['skipped_total']} skipped" if s["skipped_total"] else ""
        print(f"{s['task']}/{s['split']}: {s['samples']} samples{skipped}")
    print(f"report: {Path(args.out) if args.out else Path(args.dir) / '_inspect'}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns a process exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "convert":
        from crabplus.data.converters import main as convert_main

        return int(convert_main(argv[1:]) or 0)
    parser = build_parser()
    if argv and argv[0] == "synth":
        synth_parser = parser._subparsers._group_actions[0].choices["synth"]
        argv = ["synth", *flags_to_dotlist(argv[1:], synth_parser)]
    args = parser.parse_args(argv)
    if args.command == "inspect":
        return _inspect(args)
    from crabplus.data.synth.generate import load_synth_config, write_synth

    try:
        config = load_synth_config(args.config, args.overrides)
        splits = [x for arg in args.split for x in arg.split(",") if x] if args.split else None
        write_synth(args.out, config, splits=splits, workers=args.workers)
    except (KeyError, ValueError, FileNotFoundError) as err:
        print(f"crabplus data synth: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
