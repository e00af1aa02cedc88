import os
import signal
import subprocess
import sys
import textwrap

import pytest
import torch

from crabplus.train.checkpoint_io import AtomicCheckpointIO

pytestmark = pytest.mark.integration


def test_save_load_round_trip_uses_weights_only(tmp_path):
    io = AtomicCheckpointIO()
    path = tmp_path / "last.ckpt"
    io.save_checkpoint({"state_dict": {"w": torch.arange(3.0)}, "step": 7}, path)
    loaded = io.load_checkpoint(path)
    assert loaded["step"] == 7 and torch.equal(loaded["state_dict"]["w"], torch.arange(3.0))
    assert [p.name for p in tmp_path.iterdir()] == ["last.ckpt"]  # no temp files left behind


def test_kill_during_save_leaves_previous_checkpoint_loadable(tmp_path):
    path = tmp_path / "last.ckpt"
    AtomicCheckpointIO().save_checkpoint({"version": 1, "w": torch.zeros(4)}, path)
    # A child process starts saving a large checkpoint over the same path and is SIGKILLed mid-write.
    script = textwrap.dedent(
        f"""
        import os, signal, torch
        from crabplus.train.checkpoint_io import AtomicCheckpointIO
        class Bomb:
            def __reduce__(self):
                os.kill(os.getpid(), signal.SIGKILL)  # dies while torch.save is writing
        AtomicCheckpointIO().save_checkpoint({{"version": 2, "big": torch.zeros(2_000_000), "bomb": Bomb()}}, {str(path)!r})
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True)
    assert proc.returncode == -signal.SIGKILL
    loaded = AtomicCheckpointIO().load_checkpoint(path)
    assert loaded["version"] == 1 and torch.equal(loaded["w"], torch.zeros(4))
    leftovers = [p for p in os.listdir(tmp_path) if p != "last.ckpt"]
    assert all(p.endswith(".tmp") for p in leftovers)  # a torn temp file at most, never a torn checkpoint


def test_orphan_temp_files_are_removed_at_teardown_and_on_request(tmp_path):
    """A kill during a save leaves ``.last.ckpt.<random>.tmp``: removed when the run's IO tears down (end of
    a fit) and by ``remove_orphan_temps`` (start of a fit); real checkpoints stay."""
    from crabplus.train.checkpoint_io import remove_orphan_temps

    io_ = AtomicCheckpointIO()
    io_.save_checkpoint({"x": torch.zeros(2)}, tmp_path / "last.ckpt")
    orphan = tmp_path / ".last.ckpt.abc123.tmp"
    orphan.write_bytes(b"partial")
    io_.teardown()
    assert not orphan.exists() and (tmp_path / "last.ckpt").exists()
    orphan.write_bytes(b"partial")
    assert remove_orphan_temps(tmp_path) == [orphan] and not orphan.exists()
    assert remove_orphan_temps(tmp_path / "missing") == []
