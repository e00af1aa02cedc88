"""The ``crabplus`` command: LightningCLI subcommands plus the project's own tools.

``crabplus fit|validate|test|predict --config FILE.yaml`` go through :class:`CrabplusCLI` (LightningCLI with
the ``omegaconf+`` parser mode, so ``${..key}`` interpolation in configs sees command-line overrides).
``crabplus data ...``, ``crabplus transfer ...`` and ``crabplus eval-all ...`` are dispatched to the
``main(argv)`` of the package that owns them; the dispatch table below is the only place that knows them.

Errors: a stop the project means to make (:class:`crabplus.errors.CrabplusError`) prints one or two lines
and exits 1 (config errors the parser finds: one line, exit 2, ``crabplus.train.parser_errors``);
``--debug`` anywhere on the command line (or ``CRABPLUS_DEBUG=1``) shows the traceback instead.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any

from crabplus.errors import error_report

__all__ = ["main"]  # CrabplusCLI and run_lightning: lazily, see __getattr__

LIGHTNING_SUBCOMMANDS = ("fit", "validate", "test", "predict")

# Tool subcommands import their package only when run (``crabplus --help`` stays fast).


def _data(argv: list[str]) -> int:
    from crabplus.data.cli import main as run

    return int(run(argv) or 0)


def _transfer(argv: list[str]) -> int:
    from crabplus.transfer.cli import main as run

    return int(run(argv) or 0)


def _eval_all(argv: list[str]) -> int:
    from crabplus.evaluate.eval_all import main as run

    return int(run(argv) or 0)


def _plan(argv: list[str]) -> int:
    from crabplus.plan.cli import main as run

    return int(run(argv) or 0)


def _export(argv: list[str]) -> int:
    from crabplus.train.export import main as run

    return int(run(argv) or 0)


# subcommand -> (runner of main(argv) -> exit code, one-line help)
TOOL_SUBCOMMANDS: dict[str, tuple[Callable[[list[str]], int], str]] = {
    "data": (
        _data,
        "synthesise the AV world (`data synth`), convert a public dataset (`data convert`), inspect shards (`data inspect`)",
    ),
    "transfer": (_transfer, "single-task baselines, transfer reports and pairwise matrices"),
    "eval-all": (_eval_all, "evaluate configured checkpoints on every configured task"),
    "plan": (_plan, "parameter counts, tokens per task and memory per device of a config (no weights)"),
    "export": (_export, "a checkpoint's adapter (+ connectors) as safetensors; peft folder for K=1"),
}

LIGHTNING_HELP = {
    "fit": "train (a second fit with --ckpt_path resumes; logs go to a new folder)",
    "validate": "validation metrics of a checkpoint (--ckpt_path), any tasks and split",
    "test": "test metrics of a checkpoint; --save_predictions also writes predictions.jsonl",
    "predict": "generate answers of a checkpoint into predictions.jsonl (one row per item)",
}


def __getattr__(name: str) -> Any:
    """``CrabplusCLI`` and ``run_lightning`` load Lightning: imported on first use, not with this module."""
    if name in ("CrabplusCLI", "run_lightning"):
        from crabplus.train import lightning_cli

        return getattr(lightning_cli, name)
    raise AttributeError(f"module 'crabplus.cli' has no attribute {name!r}")


def _print_help() -> None:
    print("usage: crabplus <subcommand> [options]\n")
    print("Training and evaluation (LightningCLI; `crabplus <subcommand> --help` for all options):")
    for name in LIGHTNING_SUBCOMMANDS:
        print(f"  {name:<10} {LIGHTNING_HELP[name]}")
    print("\nTools:")
    for name, (_, text) in TOOL_SUBCOMMANDS.items():
        print(f"  {name:<10} {text}")
    print(
        "\nOverrides, every subcommand: --key.sub value (or --key.sub=value), e.g. --trainer.max_steps 100,"
        "\n--data.init_args.root data/x, `crabplus data synth ... --splits.train 16`."
        "\nRuns: <runs_dir>/<run_name>/{checkpoints,fit,fit-<time>,test-<time>,predict-<time>}/; results in"
        "\n<runs_dir>/results.sqlite."
    )


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``crabplus`` console script."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args or os.environ.get("CRABPLUS_DEBUG", "") not in ("", "0")
    args = [a for a in args if a != "--debug"]
    if debug:  # the config parser reads it too (crabplus.train.parser_errors)
        os.environ["CRABPLUS_DEBUG"] = "1"
    try:
        return _dispatch(args, from_command_line=argv is None)
    except Exception as err:
        report = None if debug else error_report(err)
        if report is None:
            raise
        print(f"crabplus {args[0]}: error: {report}", file=sys.stderr)
        print("(--debug or CRABPLUS_DEBUG=1 shows the traceback)", file=sys.stderr)
        return 1


def _dispatch(args: list[str], from_command_line: bool) -> int:
    if not args or args[0] in ("-h", "--help"):
        _print_help()
        return 0
    if args[0] in TOOL_SUBCOMMANDS:
        return TOOL_SUBCOMMANDS[args[0]][0](args[1:])
    if args[0] not in LIGHTNING_SUBCOMMANDS:
        _print_help()
        print(f"\nerror: unknown subcommand {args[0]!r}", file=sys.stderr)
        return 2
    from crabplus.train.lightning_cli import run_lightning

    if not from_command_line:
        run_lightning(args)
    else:  # LightningCLI reads sys.argv itself (and warns when also given args): without --debug
        sys.argv = [sys.argv[0], *args]
        run_lightning(None)
    _close_process_group()
    return 0


def _close_process_group() -> None:
    """Tear down a DDP process group before the interpreter exits: left to exit, gloo's threads can abort
    a rank ("terminate called without an active exception") after the run itself has finished."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


if __name__ == "__main__":
    sys.exit(main())
