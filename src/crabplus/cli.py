"""The ``crabplus`` command: LightningCLI subcommands plus the project's own tools.

``crabplus fit|validate|test|predict --config FILE.yaml`` go through :class:`CrabplusCLI` (LightningCLI with
the ``omegaconf+`` parser mode, so ``${..key}`` interpolation in configs sees command-line overrides).
``crabplus data ...``, ``crabplus transfer ...`` and ``crabplus eval-all ...`` are dispatched to the
``main(argv)`` of the package that owns them; the dispatch table below is the only place that knows them.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Any

from lightning.pytorch import LightningDataModule, LightningModule, Trainer
from lightning.pytorch.callbacks import LearningRateMonitor, ModelCheckpoint, RichProgressBar
from lightning.pytorch.cli import LightningCLI
from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger

from crabplus.model import WeightsPathError, check_preset_paths
from crabplus.train.callbacks.transfer import TransferCallback
from crabplus.train.checkpoint_io import AtomicCheckpointIO
from crabplus.train.module import AVLLMModule

__all__ = ["CrabplusCLI", "main"]

LIGHTNING_SUBCOMMANDS = ("fit", "validate", "test", "predict")

# subcommand -> (module with main(argv) -> int, one-line help)
TOOL_SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "data": (
        "crabplus.data.cli",
        "synthesise the AV world (`data synth`) or convert a public dataset (`data convert`)",
    ),
    "transfer": ("crabplus.transfer.cli", "single-task baselines, transfer reports and pairwise matrices"),
    "eval-all": ("crabplus.evaluate.eval_all", "evaluate configured checkpoints on every configured task"),
    "plan": (
        "crabplus.plan.cli",
        "parameter counts, tokens per task and memory per device of a config (no weights)",
    ),
}


class CrabplusCLI(LightningCLI):
    """LightningCLI with crabplus's run layout: everything of a run lives under ``<runs_dir>/<run_name>/``.

    Defaults a user expects and does not want to configure each time: a rich progress bar, CSV and
    TensorBoard loggers, a ``last.ckpt`` written atomically every ``checkpoint_every_n_steps`` steps, and the
    resolved config saved beside the checkpoints.
    """

    def add_arguments_to_parser(self, parser: Any) -> None:
        parser.add_argument("--run_name", type=str, default="default", help="Run folder name under runs_dir.")
        parser.add_argument("--runs_dir", type=str, default="runs", help="Root folder of all runs.")
        parser.add_argument(
            "--checkpoint_every_n_steps", type=int, default=50, help="Steps between atomic last.ckpt saves."
        )

    def before_instantiate_classes(self) -> None:
        """Pre-flight of the model's weight paths: a missing download stops here with one line."""
        config = self.config[self.subcommand] if self.subcommand else self.config
        model = config.get("model")
        init_args = getattr(model, "init_args", None)
        preset = getattr(init_args, "preset", None)
        if preset:
            check_preset_paths(preset, dict(getattr(init_args, "model_overrides", None) or {}))

    def instantiate_trainer(self, **kwargs: Any) -> Trainer:
        config = self.config[self.subcommand] if self.subcommand else self.config
        trainer_config = dict(self.config_init[self.subcommand]["trainer"] if self.subcommand else {})
        configured = list(trainer_config.get("callbacks") or [])
        # An explicit trainer.default_root_dir (e.g. a derived baseline run) wins over runs_dir/run_name.
        if trainer_config.get("default_root_dir") in (None, "", "."):
            trainer_config["default_root_dir"] = str(Path(config["runs_dir"]) / config["run_name"])
        run_dir = Path(trainer_config["default_root_dir"])
        if trainer_config.get("logger") in (None, True):
            trainer_config["logger"] = [
                CSVLogger(save_dir=str(run_dir), name="", version=""),
                TensorBoardLogger(save_dir=str(run_dir), name="tensorboard", version=""),
            ]
        if not trainer_config.get("plugins"):
            trainer_config["plugins"] = [AtomicCheckpointIO()]
        defaults = self._default_callbacks(trainer_config, configured, run_dir, config)
        parser_callbacks = [
            self._get(self.config_init, c) for c in self._parser(self.subcommand).callback_keys
        ]
        return self._instantiate_trainer({**trainer_config, **kwargs}, parser_callbacks + defaults)

    def _default_callbacks(
        self, trainer_config: dict[str, Any], configured: list[Any], run_dir: Path, config: Any
    ) -> list[Any]:
        """Progress bar, atomic ``last.ckpt``, lr monitor and the results-store writer, unless configured."""

        def has(kind: type) -> bool:
            return any(isinstance(c, kind) for c in configured)

        defaults: list[Any] = []
        if trainer_config.get("enable_progress_bar", True) is not False and not has(RichProgressBar):
            defaults.append(RichProgressBar(leave=True))
        if trainer_config.get("enable_checkpointing", True) is not False and not has(ModelCheckpoint):
            every = config["checkpoint_every_n_steps"]
            defaults.append(
                ModelCheckpoint(
                    dirpath=str(run_dir / "checkpoints"), save_last=True, every_n_train_steps=every
                )
            )
        if trainer_config.get("logger"):
            defaults.append(LearningRateMonitor(logging_interval="step"))
        if isinstance(self.model, AVLLMModule) and not has(TransferCallback):
            # every evaluation of an AV-LLM lands in the results store (runs/results.sqlite)
            defaults.append(
                TransferCallback(
                    store=str(Path(config["runs_dir"]) / "results.sqlite"), run_name=config["run_name"]
                )
            )
        return defaults


def _print_help() -> None:
    print("usage: crabplus <subcommand> [options]\n")
    print("Training and evaluation (LightningCLI; `crabplus <subcommand> --help` for all options):")
    for name in LIGHTNING_SUBCOMMANDS:
        print(f"  {name:<10} {name} a model: crabplus {name} --config FILE.yaml")
    print("\nTools:")
    for name, (_, text) in TOOL_SUBCOMMANDS.items():
        print(f"  {name:<10} {text}")


def run_lightning(args: list[str] | None) -> CrabplusCLI:
    """Run one LightningCLI subcommand with crabplus's parser settings."""
    return CrabplusCLI(
        LightningModule,
        LightningDataModule,
        subclass_mode_model=True,
        subclass_mode_data=True,
        parser_kwargs={"parser_mode": "omegaconf+"},
        save_config_kwargs={"overwrite": True},
        seed_everything_default=0,
        args=args,
        auto_configure_optimizers=False,
    )


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``crabplus`` console script."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        _print_help()
        return 0
    if args[0] in TOOL_SUBCOMMANDS:
        module = importlib.import_module(TOOL_SUBCOMMANDS[args[0]][0])
        return int(module.main(args[1:]) or 0)
    if args[0] not in LIGHTNING_SUBCOMMANDS:
        _print_help()
        print(f"\nerror: unknown subcommand {args[0]!r}", file=sys.stderr)
        return 2
    try:
        run_lightning(None if argv is None else args)  # None: LightningCLI reads sys.argv itself
    except WeightsPathError as err:  # a missing download: one line naming the key, not a traceback
        print(f"crabplus {args[0]}: {err}", file=sys.stderr)
        return 2
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
