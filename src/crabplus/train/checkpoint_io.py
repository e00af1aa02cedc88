"""Atomic checkpoint writes: a kill during saving leaves the previous checkpoint loadable.

Lightning's default IO writes the final path directly, so a SIGKILL mid-write leaves a truncated
``last.ckpt``. Writing to a temporary file in the same folder and ``os.replace``-ing it is atomic on POSIX.
Loading uses ``weights_only=True`` (no unrestricted pickle); the few non-tensor types crabplus stores
(plain containers, numbers, strings, numpy RNG state) are allow-listed.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch
from lightning.pytorch.plugins.io import TorchCheckpointIO

__all__ = ["AtomicCheckpointIO", "safe_globals"]


def safe_globals() -> list[Any]:
    """Types allowed when unpickling a checkpoint with ``weights_only=True``."""
    allowed: list[Any] = [np.ndarray, np.dtype, np.dtypes.UInt32DType, np.dtypes.Int64DType]
    reconstruct = getattr(np, "_core", np.core).multiarray._reconstruct
    allowed.append(reconstruct)
    return allowed


class AtomicCheckpointIO(TorchCheckpointIO):
    """``TorchCheckpointIO`` that writes through a temp file + rename and loads with ``weights_only``."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path: str | Path, storage_options: Any = None) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
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

    def load_checkpoint(self, path: str | Path, map_location: Any = None, weights_only: bool | None = None) -> dict[str, Any]:
        with torch.serialization.safe_globals(safe_globals()):
            return torch.load(path, map_location=map_location or "cpu", weights_only=True)
