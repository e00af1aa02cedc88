"""Every stop the project means to make is a short report, not a traceback wall (issue 19, item 2).

Each case runs the real ``crabplus`` entry point (``crabplus.cli.main``, in this process, so that one
Lightning import serves all cases) and asserts: exit code non-zero, no traceback, at most 4 lines of
report, and the key path or file that the user has to fix named in it. Most cases fail before training;
the skip limit (raised inside a DataLoader worker) and the non-finite limit fail after a few steps.
"""

from __future__ import annotations

import io
import shutil
import tarfile
from pathlib import Path

import pytest

from crabplus.cli import main

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
SYNTH = """
version: "test"
maxcount: 4
world: {num_classes: 4, duration_s: 4.0, fps: 4, frame_size: 32, sample_rate: 16000, max_objects: 2, seed: 0}
splits: {train: 8, val: 2, test: 2}
tasks: {synth_cls: {}}
"""


@pytest.fixture(scope="module")
def data_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("errors")
    (root / "synth.yaml").write_text(SYNTH)
    assert main(["data", "synth", "--out", str(root / "data"), "--config", str(root / "synth.yaml")]) == 0
    return root / "data"


def _fit_args(data: Path, runs: Path, *extra: str) -> list[str]:
    return [
        "fit", "--config", str(ROOT / "configs/tiny_modular.yaml"), f"--runs_dir={runs}", "--run_name=err",
        f"--data.init_args.root={data}", "--data.init_args.tasks=[{name: synth_cls}]",
        "--data.init_args.num_workers=0", "--data.init_args.batch_size=2", "--trainer.max_steps=2",
        "--trainer.enable_progress_bar=false", "--trainer.enable_model_summary=false",
        "--trainer.limit_val_batches=0", "--checkpoint_every_n_steps=1", *extra,
    ]  # fmt: skip


@pytest.fixture(scope="module")
def checkpoint(data_root, tmp_path_factory, monkeypatch_module) -> Path:
    """A 2-step fit's last.ckpt (0 workers)."""
    runs = tmp_path_factory.mktemp("ckpt_runs")
    assert main(_fit_args(data_root, runs)) == 0
    return runs / "err" / "checkpoints" / "last.ckpt"


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("sys.argv", ["crabplus"])  # LightningCLI warns when given args beside sys.argv's
        mp.delenv("CRABPLUS_DEBUG", raising=False)
        yield mp


@pytest.fixture(scope="module")
def corrupt_root(data_root, tmp_path_factory) -> Path:
    """The data with every training sample's mp4 cut to 100 bytes."""
    root = tmp_path_factory.mktemp("corrupt") / "data"
    shutil.copytree(data_root, root)
    for shard in sorted((root / "synth_cls" / "train").glob("*.tar")):
        members = []
        with tarfile.open(shard) as tar:
            for info in tar.getmembers():
                data = tar.extractfile(info).read()
                members.append((info.name, data[:100] if info.name.endswith(".mp4") else data))
        with tarfile.open(shard, "w") as tar:
            for name, data in members:
                info = tarfile.TarInfo(name)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return root


def _truncated(checkpoint: Path, tmp: Path) -> Path:
    out = tmp / "truncated.ckpt"
    out.write_bytes(checkpoint.read_bytes()[:5000])
    return out


def _bad_yaml(tmp: Path) -> Path:
    text = (ROOT / "configs/tiny_modular.yaml").read_text()
    assert "adapter: {heads: 3," in text
    bad = tmp / "bad_type.yaml"
    bad.write_text(text.replace("adapter: {heads: 3,", "adapter: {heads: three,"))
    return bad


# id -> (extra arguments given (data root, corrupt root, checkpoint, tmp), text the report must name)
CASES = {
    "missing_data_root": (lambda d, c, k, t: [f"--data.init_args.root={t / 'nowhere'}"], "nowhere"),
    "unknown_preset": (lambda d, c, k, t: ["--model.init_args.preset=tiny-modulr"], "model.init_args.preset"),
    "unknown_task": (lambda d, c, k, t: ["--data.init_args.tasks=[{name: synth_clss}]"], "synth_clss"),
    "bad_trainable": (
        lambda d, c, k, t: ["--model.init_args.trainable=everything"],
        "model.init_args.trainable",
    ),
    "missing_ckpt_path": (lambda d, c, k, t: [f"--ckpt_path={t / 'gone.ckpt'}"], "gone.ckpt"),
    "truncated_checkpoint": (lambda d, c, k, t: [f"--ckpt_path={_truncated(k, t)}"], "truncated.ckpt"),
    "resume_other_workers": (
        lambda d, c, k, t: [f"--ckpt_path={k}", "--data.init_args.num_workers=2", "--trainer.max_steps=3"],
        "data.init_args.stream_slots=1",
    ),
    "media_not_the_presets": (
        lambda d, c, k, t: [
            "--data.init_args.media={num_frames: 4, frame_size: 48, n_mels: 64, clip_seconds: 4.0}"
        ],
        "data.init_args.media.frame_size=48",
    ),
    "misspelt_key": (
        lambda d, c, k, t: ["--model.init_args.max_new_tokenz=3"],
        "model.init_args.max_new_tokenz",
    ),
    "wrong_type_option": (lambda d, c, k, t: ["--trainer.max_steps=sixty"], "trainer.max_steps"),
    "wrong_type_in_yaml": (lambda d, c, k, t: ["--config", str(_bad_yaml(t))], "adapter.heads"),
    "skip_limit_in_worker": (
        lambda d, c, k, t: [
            f"--data.init_args.root={c}",
            "--data.init_args.num_workers=2",
            "--data.init_args.skip_min_samples=1",
            "--data.init_args.max_skip_share=0.0",
        ],
        "synth_cls/train/shard-",
    ),
    "non_finite_limit": (
        lambda d, c, k, t: [
            "--trainer.callbacks+=tests.helpers.nonfinite.NaNGradients",
            "--trainer.callbacks.from_step=1",
            "--model.init_args.max_skipped_steps=0",
            "--trainer.max_steps=4",
        ],
        "err/checkpoints/last.ckpt",
    ),
}


def _report(capfd) -> tuple[str, list[str]]:
    """All output, and the report: the lines from ``crabplus fit: error:`` (``error:`` from the parser) on."""
    out, err = capfd.readouterr()
    lines = err.splitlines()
    start = next(
        (i for i, line in enumerate(lines) if line.startswith(("crabplus fit: error:", "error:"))), len(lines)
    )
    return out + err, lines[start:]


@pytest.mark.parametrize("case", list(CASES))
def test_project_error_is_a_short_report(case, data_root, corrupt_root, checkpoint, tmp_path, capfd):
    make_args, named = CASES[case]
    extra = make_args(data_root, corrupt_root, checkpoint, tmp_path)
    capfd.readouterr()
    try:
        rc = main(_fit_args(data_root, tmp_path / "runs", *extra))
    except SystemExit as stop:  # the config parser reports and exits (crabplus.train.parser_errors)
        rc = stop.code
    output, report = _report(capfd)
    assert rc != 0
    assert "Traceback" not in output, output[-3000:]
    assert 1 <= len(report) < 5, output[-3000:]
    assert named in "\n".join(report), report
    if case == "non_finite_limit":  # the real path, not a placeholder; the skipped step printed its line
        assert str(tmp_path / "runs" / "err" / "checkpoints" / "last.ckpt") in report[0]
        assert "<run>" not in report[0]


@pytest.mark.parametrize("how", ["flag", "env"])
def test_debug_shows_the_traceback(how, data_root, tmp_path, capfd, monkeypatch):
    args = _fit_args(data_root, tmp_path / "runs", "--model.init_args.trainable=everything")
    # --debug sets CRABPLUS_DEBUG for the config parser: monkeypatch restores it afterwards
    monkeypatch.setenv("CRABPLUS_DEBUG", "1" if how == "env" else "")
    if how == "flag":
        args.append("--debug")
    with pytest.raises(Exception) as caught:
        main(args)
    assert "model.init_args.trainable" in "".join(str(e) for e in (caught.value, caught.value.__cause__))
