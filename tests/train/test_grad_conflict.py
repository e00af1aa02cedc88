"""GradConflictCallback: hand-computed cosines, fast path vs the literal formula, no side effects, real Trainer.

Module: a weight vector w ∈ R² and task_loss(batch) = Σ_i w·x_i (+ 0·frozen), so g_t = Σ_{i∈t} x_i exactly.
Held batches: a → x = (1, 0) and (1, 0) → g_a = (2, 0); b → (0, 3) → g_b = (0, 3); c → (−1, 1) → g_c = (−1, 1).
cos(a, b) = 0, cos(a, c) = −2/(2·√2) = −1/√2, cos(b, c) = 3/(3·√2) = +1/√2.
"""

import math

import lightning as L
import pytest
import torch

from crabplus.train.callbacks.grad_conflict import (
    GradConflictCallback,
    cosine_matrix,
    cosine_matrix_reference,
    select_samples,
)

BATCH = {"task": ["a", "b", "a", "c"], "task_id": torch.tensor([0, 1, 0, 2]),
         "x": torch.tensor([[1.0, 0.0], [0.0, 3.0], [1.0, 0.0], [-1.0, 1.0]]), "prompt": ["p0", "p1", "p2", "p3"],
         "meta": "kept as is"}


class LinearTasks(L.LightningModule):
    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.tensor([0.5, -0.5]))
        self.frozen = torch.nn.Parameter(torch.ones(3), requires_grad=False)
        self.dropout = torch.nn.Dropout(0.5)

    def task_loss(self, batch):
        return (self.dropout(batch["x"]) @ self.w).sum()

    def training_step(self, batch, batch_idx):
        return self.task_loss(batch)

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.0)  # keep w fixed: the test checks exact cosines


class Logger:
    def __init__(self):
        self.logged = []

    def log_metrics(self, metrics, step):
        self.logged.append((step, metrics))


@pytest.mark.unit
def test_select_samples():
    held = select_samples(BATCH, [0, 2])
    assert held["task"] == ["a", "a"] and held["prompt"] == ["p0", "p2"] and held["meta"] == "kept as is"
    assert held["x"].tolist() == [[1.0, 0.0], [1.0, 0.0]] and held["task_id"].tolist() == [0, 0]


@pytest.mark.unit
def test_hand_computed_matrix_and_no_side_effects():
    module = LinearTasks()
    module.train()
    module.w.grad = torch.tensor([7.0, 7.0])  # an accumulating gradient must survive the measurement
    callback = GradConflictCallback(every_n_steps=1)
    callback.on_train_batch_start(None, module, BATCH, 0)
    assert sorted(callback.held) == ["a", "b", "c"]
    tasks, matrix = callback.measure(module)
    r = 1 / math.sqrt(2)
    assert tasks == ["a", "b", "c"]
    expected = torch.tensor([[1, 0, -r], [0, 1, r], [-r, r, 1]])
    torch.testing.assert_close(matrix, expected, atol=1e-6, rtol=0)
    assert module.w.grad.tolist() == [7.0, 7.0] and module.training


@pytest.mark.unit
def test_fast_path_matches_literal_formula():
    grads = torch.randn(4, 50, dtype=torch.float64)
    reference = torch.tensor(cosine_matrix_reference(list(grads)), dtype=torch.float64)
    torch.testing.assert_close(cosine_matrix(grads), reference, atol=1e-9, rtol=0)


@pytest.mark.unit
def test_param_filter_must_match():
    callback = GradConflictCallback(param_filter="lora")
    callback.on_train_batch_start(None, LinearTasks(), BATCH, 0)
    with pytest.raises(ValueError, match="lora"):
        callback.measure(LinearTasks())


@pytest.mark.integration
def test_real_trainer_logs_every_n_steps(tmp_path):
    batches = [dict(BATCH) for _ in range(6)]
    loader = torch.utils.data.DataLoader(batches, batch_size=None)
    callback = GradConflictCallback(every_n_steps=2)
    logger = L.pytorch.loggers.CSVLogger(tmp_path)
    trainer = L.Trainer(max_steps=6, callbacks=[callback], logger=logger, default_root_dir=tmp_path,
                        enable_progress_bar=False, enable_model_summary=False, enable_checkpointing=False)
    trainer.fit(LinearTasks(), loader)
    assert [step for step, _, _ in callback.history] == [2, 4, 6]
    metrics = (tmp_path / "lightning_logs" / "version_0" / "metrics.csv").read_text()
    header = metrics.splitlines()[0]
    assert "grad_conflict/a__c" in header and "grad_conflict/conflict_share" in header
    _, tasks, matrix = callback.history[-1]
    assert float(matrix[0, 2]) == pytest.approx(-1 / math.sqrt(2), abs=1e-6)
    assert (tmp_path / "lightning_logs" / "version_0" / "grad_conflict.png").is_file()


@pytest.mark.unit
def test_logged_scalars():
    module, logger = LinearTasks(), Logger()
    callback = GradConflictCallback(every_n_steps=5)
    trainer = type("T", (), {"global_step": 5, "loggers": [logger],
                             "precision_plugin": L.pytorch.plugins.Precision()})()
    callback.on_train_batch_start(trainer, module, BATCH, 0)
    callback.on_train_batch_end(trainer, module, None, BATCH, 0)
    callback.on_train_batch_end(trainer, module, None, BATCH, 1)  # same step (accumulation): measured once
    ((step, logged),) = logger.logged
    r = 1 / math.sqrt(2)
    assert step == 5
    assert logged["grad_conflict/a__b"] == pytest.approx(0.0, abs=1e-6)
    assert logged["grad_conflict/b__c"] == pytest.approx(r)
    assert logged["grad_conflict/mean_cos"] == pytest.approx(0.0, abs=1e-6)
    assert logged["grad_conflict/conflict_share"] == pytest.approx(1 / 3)
