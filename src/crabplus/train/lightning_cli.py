"""``crabplus fit|validate|test|predict``: LightningCLI with crabplus's run layout and console defaults.

Imported only when one of these subcommands runs (``crabplus --help`` and the tool subcommands never load
Lightning). Run layout: :mod:`crabplus.train.run_layout` — every command writes its logs and its resolved
config into its own folder under ``<runs_dir>/<run_name>/``; checkpoints stay in ``checkpoints/``.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from lightning.pytorch import LightningDataModule, LightningModule, Trainer
from lightning.pytorch.callbacks import LearningRateMonitor, ModelCheckpoint, RichProgressBar
from lightning.pytorch.cli import LightningCLI
from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger

from crabplus.model import check_preset_paths
from crabplus.train.callbacks.checkpoint import ValidationStepCheckpoint
from crabplus.train.callbacks.predictions import PredictionWriter
from crabplus.train.callbacks.progress import StepProgressBar
from crabplus.train.callbacks.summary import EvalSummaryCallback
from crabplus.train.callbacks.transfer import TransferCallback
from crabplus.train.checkpoint_io import AtomicCheckpointIO, check_checkpoint_path, remove_orphan_temps
from crabplus.train.module import AVLLMModule
from crabplus.train.parser_errors import CrabplusArgumentParser
from crabplus.train.run_layout import command_folder, run_folder

__all__ = ["CrabplusCLI", "run_lightning"]


class _DropCloudTip(logging.Filter):
    """Lightning advertises its cloud services (litlogger, litmodels) at every Trainer start; crabplus logs
    and checkpoints locally on purpose."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("💡 Tip")


for _name in ("lightning.pytorch.utilities.rank_zero", "lightning.fabric.utilities.rank_zero"):
    logging.getLogger(_name).addFilter(_DropCloudTip())

# Trainer-method arguments whose Lightning default does not suit crabplus: its own results table replaces
# Lightning's (EvalSummaryCallback), and predictions go to JSONL files, not into memory.
METHOD_DEFAULTS = {"verbose": False, "return_predictions": False}


class CrabplusCLI(LightningCLI):
    """LightningCLI with crabplus's run layout: everything of a run lives under ``<runs_dir>/<run_name>/``.

    Defaults a user expects and does not want to configure each time: a progress bar, CSV and TensorBoard
    loggers writing into the command's own folder, a ``last.ckpt`` written atomically every
    ``checkpoint_every_n_steps`` steps, the results store writer, a task × metric summary table, and for
    ``predict`` (or ``test --save_predictions``) the JSONL prediction writer.
    """

    def add_arguments_to_parser(self, parser: Any) -> None:
        parser.add_argument("--run_name", type=str, default="default", help="Run folder name under runs_dir.")
        parser.add_argument("--runs_dir", type=str, default="runs", help="Root folder of all runs.")
        parser.add_argument(
            "--checkpoint_every_n_steps", type=int, default=50, help="Steps between atomic last.ckpt saves."
        )
        parser.add_argument(
            "--threads",
            type=int | None,
            default=None,
            help="torch intra-op CPU threads (null: torch's default). CPU float sums depend on the thread "
            "count, so a run that must be bit-reproducible pins it here, in its config, not in the environment.",
        )
        parser.add_argument(
            "--save_predictions",
            type=bool,
            default=False,
            help="test/validate: also write predictions.jsonl (one row per item) into the command's folder.",
        )
        parser.add_argument(
            "--predictions_dir",
            type=str | None,
            default=None,
            help="predict/test: write predictions.jsonl here instead (a previous folder resumes it).",
        )

    def _parse_ckpt_path(self) -> None:
        """Pre-flight of ``--ckpt_path`` (Lightning reads its hyperparameters here, before anything is
        built): a missing or truncated file stops with one line naming it."""
        subcommand = self.config.get("subcommand")
        ckpt_path = self.config[subcommand].get("ckpt_path") if subcommand else None
        if ckpt_path and ckpt_path not in ("last", "best", "hpc", "registry"):
            check_checkpoint_path(ckpt_path)
        super()._parse_ckpt_path()

    def before_instantiate_classes(self) -> None:
        """The pinned thread count (``threads``), then a pre-flight of the model's weight paths: a missing
        download stops here with one line."""
        config = self.config[self.subcommand] if self.subcommand else self.config
        threads = config.get("threads")
        if threads:
            import torch

            torch.set_num_threads(int(threads))
        model = config.get("model")
        init_args = getattr(model, "init_args", None)
        preset = getattr(init_args, "preset", None)
        if preset:
            check_preset_paths(preset, dict(getattr(init_args, "model_overrides", None) or {}))

    def _prepare_subcommand_parser(self, klass: type, subcommand: str, **kwargs: Any) -> Any:
        parser = super()._prepare_subcommand_parser(klass, subcommand, **kwargs)
        present = {k: v for k, v in METHOD_DEFAULTS.items() if f"--{k}" in parser._option_string_actions}
        if present:  # Trainer.test/validate/predict arguments exist once the subcommand's parser is built
            parser.set_defaults(present)
        return parser

    def instantiate_trainer(self, **kwargs: Any) -> Trainer:
        config = self.config[self.subcommand] if self.subcommand else self.config
        trainer_config = dict(self.config_init[self.subcommand]["trainer"] if self.subcommand else {})
        configured = list(trainer_config.get("callbacks") or [])
        # An explicit trainer.default_root_dir (e.g. a derived baseline run) wins over runs_dir/run_name.
        if trainer_config.get("default_root_dir") in (None, "", "."):
            trainer_config["default_root_dir"] = str(run_folder(config["runs_dir"], config["run_name"]))
        run_dir = Path(trainer_config["default_root_dir"])
        if (self.subcommand or "fit") == "fit" and int(os.environ.get("RANK", "0")) == 0:
            for tmp in remove_orphan_temps(run_dir / "checkpoints"):  # left by a kill during a save
                print(f"removed {tmp.name}, the temp file of an interrupted checkpoint save")
        if trainer_config.get("logger") in (None, True):
            log_dir = command_folder(run_dir, self.subcommand or "fit")
            trainer_config["logger"] = [
                CSVLogger(save_dir=str(run_dir), name=log_dir.name, version=""),
                TensorBoardLogger(save_dir=str(log_dir), name="tensorboard", version=""),
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
        """Progress bar, atomic ``last.ckpt``, lr monitor, results store, summary table, prediction writer."""

        def has(kind: type) -> bool:
            return any(isinstance(c, kind) for c in configured)

        stage = self.subcommand or "fit"
        defaults: list[Any] = []
        if trainer_config.get("enable_progress_bar", True) is not False and not has(RichProgressBar):
            defaults.append(StepProgressBar(leave=True))
        # also outside fit (it writes nothing there): a checkpoint restored without the callback that wrote it
        # makes Lightning warn
        if trainer_config.get("enable_checkpointing", True) is not False and not has(ModelCheckpoint):
            every = config["checkpoint_every_n_steps"]
            defaults.append(  # written after the step's validation when one follows (exact resume)
                ValidationStepCheckpoint(
                    dirpath=str(run_dir / "checkpoints"), save_last=True, every_n_train_steps=every
                )
            )
        if stage == "fit" and trainer_config.get("logger"):
            defaults.append(LearningRateMonitor(logging_interval="step"))
        is_avllm = isinstance(self.model, AVLLMModule)
        if is_avllm and stage != "predict" and not has(TransferCallback):
            # every evaluation of an AV-LLM lands in the results store (runs/results.sqlite)
            store = str(Path(config["runs_dir"]) / "results.sqlite")
            defaults.append(TransferCallback(store=store, run_name=config["run_name"]))
        if is_avllm and stage != "predict" and not has(EvalSummaryCallback):
            defaults.append(EvalSummaryCallback())
        wants_rows = stage == "predict" or (stage in ("test", "validate") and config["save_predictions"])
        if is_avllm and wants_rows and not has(PredictionWriter):
            defaults.append(PredictionWriter(out_dir=config["predictions_dir"], stages=(stage,)))
        return defaults


def run_lightning(args: list[str] | None) -> CrabplusCLI:
    """Run one LightningCLI subcommand with crabplus's parser settings (``args`` None: ``sys.argv``)."""
    return CrabplusCLI(
        LightningModule,
        LightningDataModule,
        subclass_mode_model=True,
        subclass_mode_data=True,
        parser_kwargs={"parser_mode": "omegaconf+"},
        parser_class=CrabplusArgumentParser,
        save_config_kwargs={"overwrite": True},
        seed_everything_default=0,
        args=args,
        auto_configure_optimizers=False,
    )
