"""Atomic checkpoint writes: a kill during saving leaves the previous checkpoint loadable.

Lightning's default IO writes the final path directly, so a SIGKILL mid-write leaves a truncated
``last.ckpt``. Writing to a temporary file in the same folder and ``os.replace``-ing it is atomic on POSIX.
Loading uses ``weights_only=True`` (no unrestricted pickle). A Lightning + crabplus checkpoint holds only
tensors, plain containers, numbers and strings (RNG states are stored as tensors), which ``weights_only``
accepts as is; the numpy types are allow-listed for checkpoints that carry raw numpy RNG state.

crabplus checkpoints hold the trainable parameters only; :func:`trainable_state_keys` names them as they
appear in a state dict, also when FSDP or activation checkpointing has wrapped layers in place.
"""

from __future__ import annotations

import os
import pickle
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import torch
from lightning.pytorch.plugins.io import TorchCheckpointIO

from crabplus.errors import CrabplusError

__all__ = [
    "AtomicCheckpointIO",
    "CheckpointError",
    "check_checkpoint_path",
    "clean_param_name",
    "remove_orphan_temps",
    "safe_globals",
    "trainable_state_keys",
]

#: Temporary files of :class:`AtomicCheckpointIO` (``.last.ckpt.<random>.tmp``); a kill mid-save leaves one.
TEMP_GLOB = ".*.ckpt.*.tmp"


class CheckpointError(CrabplusError, FileNotFoundError):
    """A checkpoint path that does not exist or a file that is not a loadable checkpoint."""


def check_checkpoint_path(path: str | Path) -> None:
    """Raise :class:`CheckpointError` naming ``--ckpt_path`` when ``path`` is not a file or not a complete
    ``torch.save`` archive (a zip whose central directory, written last, is missing when truncated)."""
    folder = Path(path).parent
    found = sorted(p.name for p in folder.glob("*.ckpt") if p != Path(path)) if folder.is_dir() else []
    others = f"checkpoints in {folder}: {', '.join(found)}" if found else f"no other checkpoint in {folder}"
    if not Path(path).is_file():
        raise CheckpointError(f"--ckpt_path {path}: no such file ({others})")
    if not zipfile.is_zipfile(path):
        raise CheckpointError(
            f"--ckpt_path {path}: not a loadable checkpoint (truncated, or not written by torch.save); {others}"
        )


def remove_orphan_temps(folder: str | Path) -> list[Path]:
    """Delete temporary checkpoint files a killed save left in ``folder``; returns what was removed.

    Call it only where no save of this run is in flight (at start, after the run): a live save's temp
    file has the same name pattern.
    """
    removed = []
    for tmp in sorted(Path(folder).glob(TEMP_GLOB)) if Path(folder).is_dir() else []:
        try:
            tmp.unlink()
            removed.append(tmp)
        except FileNotFoundError:  # another process of the run removed it first
            pass
    return removed


# Inserted into parameter names by in-place wrappers, absent from (full) state-dict keys.
_WRAPPER_PARTS = ("_fsdp_wrapped_module.", "_checkpoint_wrapped_module.")


def safe_globals() -> list[Any]:
    """Types allowed when unpickling a checkpoint with ``weights_only=True``."""
    allowed: list[Any] = [np.ndarray, np.dtype, np.dtypes.UInt32DType, np.dtypes.Int64DType]
    reconstruct = getattr(np, "_core", np.core).multiarray._reconstruct
    allowed.append(reconstruct)
    return allowed


def clean_param_name(name: str) -> str:
    """``name`` without FSDP / activation-checkpointing wrapper parts: the key a full state dict uses.

    FSDP's auto-wrap replaces each wrapped layer by a wrapper holding it as ``_fsdp_wrapped_module``, so
    ``named_parameters()`` of an FSDP model says ``layers.0._fsdp_wrapped_module.mlp...`` while its full
    state dict says ``layers.0.mlp...``.
    """
    for part in _WRAPPER_PARTS:
        name = name.replace(part, "")
    return name


def trainable_state_keys(module: torch.nn.Module, prefix: str = "") -> set[str]:
    """State-dict keys (with ``prefix``) of the parameters of ``module`` that require a gradient."""
    return {prefix + clean_param_name(n) for n, p in module.named_parameters() if p.requires_grad}


class AtomicCheckpointIO(TorchCheckpointIO):
    """``TorchCheckpointIO`` that writes through a temp file + rename and loads with ``weights_only``."""

    def __init__(self) -> None:
        super().__init__()
        self.folders: set[Path] = set()  # where this run saved: its orphan temp files go at teardown

    def save_checkpoint(
        self, checkpoint: dict[str, Any], path: str | Path, storage_options: Any = None
    ) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.folders.add(path.parent)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as handle:
                torch.save(checkpoint, handle)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise

    def load_checkpoint(
        self, path: str | Path, map_location: Any = None, weights_only: bool | None = None
    ) -> dict[str, Any]:
        check_checkpoint_path(path)
        try:
            with torch.serialization.safe_globals(safe_globals()):
                return torch.load(path, map_location=map_location or "cpu", weights_only=True)
        except (
            RuntimeError,
            EOFError,
            OSError,
            ValueError,
            pickle.UnpicklingError,
        ) as err:  # truncated or not torch.save's format
            reason = str(err).splitlines()[0] if str(err) else type(err).__name__
            raise CheckpointError(
                f"{path}: not a loadable checkpoint ({reason}); it is truncated or not written by crabplus. "
                f"Resume from another checkpoint in {Path(path).parent}"
            ) from err

    def teardown(self) -> None:
        """Called when the run's strategy tears down: remove temp files of saves a kill interrupted."""
        for folder in self.folders:
            remove_orphan_temps(folder)
