"""TransferCallback with a fake trainer (hand-computed numbers) and with a tiny real Lightning Trainer.

Baselines come from tests/transfer/tiny_store.py (a/acc 0.50, b/acc 0.40, b/err 0.20, c/acc 0.70 seed-mean).
Fake validation: a/acc 0.60 (+20 %), b/acc 0.36 (−10 %), b/err 0.18 (+10 %) → Δ_b = 0, c/acc 0.77 (+10 %)
→ Δm = 0.30/3 = 0.10, positive share 2/3 (b is 0, not positive), worst drop 0 (b).
"""

from types import SimpleNamespace

import lightning as L
import pytest
import torch
from tests.transfer.tiny_store import CONFIG, HIGHER, build_tiny_store

from crabplus.train.callbacks.transfer import TransferCallback, parse_metric_keys
from crabplus.transfer import Recipe, ResultsStore


class FakeLogger:
    def __init__(self):
        self.logged = []

    def log_metrics(self, metrics, step):
        self.logged.append((step, dict(metrics)))


def fake_trainer(tmp_path, metrics, step=30):
    return SimpleNamespace(
        callback_metrics={k: torch.tensor(v) for k, v in metrics.items()}, sanity_checking=False,
        is_global_zero=True, global_step=step, loggers=[FakeLogger()], log_dir=str(tmp_path / "run"),
        default_root_dir=str(tmp_path), max_steps=30, accumulate_grad_batches=1, datamodule=None,
    )


VAL = {"val/a/acc": 0.60, "val/b/acc": 0.36, "val/b/err": 0.18, "val/c/acc": 0.77, "val/c/loss": 1.5,
       "val/loss": 2.0, "train/loss/a": 3.0}


@pytest.mark.unit
def test_parse_metric_keys():
    assert parse_metric_keys(VAL, "val", exclude=("loss",)) == {
        "a": {"acc": pytest.approx(0.60)}, "b": {"acc": pytest.approx(0.36), "err": pytest.approx(0.18)},
        "c": {"acc": pytest.approx(0.77)}}


@pytest.mark.integration
def test_fake_trainer_logs_stores_and_writes(tmp_path):
    store = build_tiny_store(tmp_path / "r.sqlite")
    module = SimpleNamespace(recipe_config=CONFIG, run_id="live-run", hparams={})
    callback = TransferCallback(store=str(store.path), higher_is_better=HIGHER)
    trainer = fake_trainer(tmp_path, VAL)
    callback.on_validation_end(trainer, module)

    ((step, logged),) = trainer.loggers[0].logged
    assert step == 30
    assert logged["transfer/delta_m"] == pytest.approx(0.10)
    assert logged["transfer/positive_share"] == pytest.approx(2 / 3)
    assert logged["transfer/worst_drop"] == pytest.approx(0.0)
    assert logged["transfer/a/rel_change"] == pytest.approx(0.20)
    assert logged["transfer/b/rel_change"] == pytest.approx(0.0)
    assert logged["transfer/missing_baselines"] == 0.0
    assert float(trainer.callback_metrics["transfer/delta_m"]) == pytest.approx(0.10)

    run = store.run("live-run")
    assert run.kind == "multitask" and run.fingerprint == Recipe.from_config(CONFIG).fingerprint
    assert run.variant == "lora" and run.seed == 0
    assert store.final_metrics("live-run") == {"a": {"acc": pytest.approx(0.6)},
                                               "b": {"acc": pytest.approx(0.36), "err": pytest.approx(0.18)},
                                               "c": {"acc": pytest.approx(0.77)}}
    assert store.directions("live-run")["b/err"] is False
    for name in ("transfer.md", "transfer.csv", "transfer.png"):
        assert (tmp_path / "run" / name).is_file()


@pytest.mark.unit
def test_missing_baselines_and_sanity_check(tmp_path):
    module = SimpleNamespace(recipe_config=CONFIG, run_id="r", hparams={})
    callback = TransferCallback(store=str(tmp_path / "empty.sqlite"), higher_is_better=HIGHER, write_files=False)
    trainer = fake_trainer(tmp_path, VAL)
    trainer.sanity_checking = True
    callback.on_validation_end(trainer, module)
    assert trainer.loggers[0].logged == []
    trainer.sanity_checking = False
    callback.on_validation_end(trainer, module)
    ((_, logged),) = trainer.loggers[0].logged
    assert logged == {"transfer/missing_baselines": 3.0}
    assert callback.last_report.missing == ["a", "b", "c"]


@pytest.mark.unit
def test_single_task_run_records_only(tmp_path):
    store = ResultsStore(tmp_path / "r.sqlite")
    fp = Recipe.from_config(CONFIG).single_task("a").fingerprint
    callback = TransferCallback(store=str(store.path), fingerprint=fp, kind="single_task",
                                higher_is_better=HIGHER, run_id="st")
    trainer = fake_trainer(tmp_path, {"val/a/acc": 0.5})
    with pytest.warns(UserWarning, match="rebuilding the recipe from hparams"):
        callback.on_validation_end(trainer, SimpleNamespace(hparams={"preset": "tiny-modular"}))
    assert trainer.loggers[0].logged == []
    assert store.run("st").fingerprint == fp and store.run("st").kind == "single_task"
    assert store.final_metrics("st") == {"a": {"acc": 0.5}}


class TwoTaskModule(L.LightningModule):
    """Logs val/<task>/acc that improves with the step, like a model that learns."""

    def __init__(self):
        super().__init__()
        self.layer = torch.nn.Linear(2, 1)
        self.recipe_config = CONFIG

    def training_step(self, batch, batch_idx):
        return self.layer(batch[0]).pow(2).mean()

    def validation_step(self, batch, batch_idx):
        pass

    def on_validation_epoch_end(self):
        bonus = 0.01 * self.global_step
        self.log_dict({"val/a/acc": 0.5 + bonus, "val/b/acc": 0.4 - bonus, "val/b/err": 0.2,
                       "val/c/acc": 0.7, "val/a/loss": 1.0})

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.01)


@pytest.mark.integration
def test_real_trainer_with_checkpoint_on_delta_m(tmp_path):
    store = build_tiny_store(tmp_path / "r.sqlite")
    data = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.ones(8, 2)), batch_size=2)
    callback = TransferCallback(store=str(store.path), higher_is_better=HIGHER, run_id="real")
    checkpoint = L.pytorch.callbacks.ModelCheckpoint(dirpath=tmp_path / "ckpt", monitor="transfer/delta_m",
                                                     mode="max")
    trainer = L.Trainer(max_steps=4, val_check_interval=2, limit_val_batches=1, callbacks=[callback, checkpoint],
                        default_root_dir=tmp_path, logger=L.pytorch.loggers.CSVLogger(tmp_path),
                        enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=1)
    trainer.fit(TwoTaskModule(), data, data)
    rows = store.rows(run_id="real")
    assert sorted({r.step for r in rows}) == [2, 4]
    # step 4: a +0.04/0.5 = +8 %, b (−0.04/0.4 = −10 %, err 0) → −5 %, c 0 → Δm = 1 %
    assert callback.last_report.delta_m == pytest.approx(0.01, rel=1e-5)  # metrics pass through float32
    assert float(checkpoint.best_model_score) == pytest.approx(0.01, rel=1e-5)
    metrics = (tmp_path / "lightning_logs" / "version_0" / "metrics.csv").read_text()
    assert "transfer/delta_m" in metrics and "transfer/b/rel_change" in metrics
    assert (tmp_path / "lightning_logs" / "version_0" / "transfer.png").is_file()
