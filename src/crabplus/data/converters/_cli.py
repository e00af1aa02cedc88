"""``crabplus data convert <dataset> --src DIR --out DIR [--split S]``: the argument parser and entry point."""

from __future__ import annotations

import argparse
import sys

from crabplus.data.converters._errors import AnnotationError
from crabplus.data.converters._registry import get, names
from crabplus.data.converters._run import SKIPPED_FILE, NothingWritten, convert

__all__ = ["main", "build_parser"]


def build_parser() -> argparse.ArgumentParser:
    """The parser for the arguments after ``convert``."""
    listing = "\n".join(f"  {n:<16} {get(n).doc}" for n in names())
    parser = argparse.ArgumentParser(
        prog="crabplus data convert",
        description="Convert a public dataset from its own annotation layout into crabplus shards.",
        epilog=f"datasets:\n{listing}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("dataset", help="dataset name (listed below)")
    parser.add_argument("--src", required=True, help="dataset root, in its official layout")
    parser.add_argument("--out", required=True, help="shard root; writes <out>/<task>/<split>/")
    parser.add_argument("--split", default="train", help="split to convert (default: train)")
    parser.add_argument("--maxcount", type=int, default=64, help="samples per tar shard (default: 64)")
    parser.add_argument("--limit", type=int, default=None, help="at most this many samples per task")
    parser.add_argument(
        "--workers", type=int, default=1, help="processes reading media (same shards for any N; default: 1)"
    )
    parser.add_argument("--tasks", default=None, help="comma-separated tasks to keep (multi-task datasets)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run a conversion; returns 0 on success, 2 on a usage error, 1 on a data error (printed to stderr)."""
    args = build_parser().parse_args(argv)
    if args.dataset not in names():
        print(f"error: unknown dataset {args.dataset!r}; known: {', '.join(names())}", file=sys.stderr)
        return 2
    conv = get(args.dataset)
    if args.split not in conv.splits:
        print(
            f"error: {args.dataset}: unknown split {args.split!r}; known: {', '.join(conv.splits)}",
            file=sys.stderr,
        )
        return 2
    tasks = [t for t in args.tasks.split(",") if t] if args.tasks else None
    try:
        report = convert(
            args.dataset,
            args.src,
            args.out,
            args.split,
            maxcount=args.maxcount,
            limit=args.limit,
            tasks=tasks,
            workers=args.workers,
            progress=True,
        )
    except (AnnotationError, NothingWritten, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    for task, n in sorted(report.written.items()):
        print(f"{args.dataset}: wrote {n} samples to {args.out}/{task}/{args.split}")
        reasons = report.skipped.get(task)
        if reasons:
            counts = ", ".join(f"{r}: {k}" for r, k in sorted(reasons.items()))
            listing = f"{args.out}/{task}/{args.split}/{SKIPPED_FILE}"
            print(f"{args.dataset}: skipped {sum(reasons.values())} rows ({counts}); listed in {listing}")
    return 0
