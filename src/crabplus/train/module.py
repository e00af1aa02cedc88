"""``AVLLMModule``: the thin LightningModule around :class:`crabplus.model.AVLLM`.

It owns what Lightning needs and nothing else: building the model from a preset, choosing what trains,
the optimizer/schedule, per-task losses and metrics, greedy generation for evaluation, the non-finite
guard and exact-resume state. Reporting (transfer, routing, gradient conflict) lives in callbacks.

Log keys: ``train/loss``, ``train/loss/<task>``, ``val/<task>/loss``, ``val/<task>/<metric>``,
``test/<task>/<metric>``, ``train/skipped_steps``, ``data/skipped/<task>`` and
``data/skipped/<task>/<kind>`` (cumulative skipped samples of the run, ``kind`` e.g. ``bad_target``).
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import lightning as L
import torch
import torch.nn.functional as F

from crabplus import tasks
from crabplus.balance import BalanceStrategy, dropped_modality_outputs
from crabplus.config_blocks import as_config
from crabplus.data import MediaSpec
from crabplus.data.batch import Batch, encoded_media
from crabplus.errors import ConfigError
from crabplus.lora import DROPOUT_DRAWS, ILoRAConfig, ILoRALinear, balance_loss
from crabplus.model import AVLLMOutput, FeatureCache, build_adapted_avllm
from crabplus.train.checkpoint_io import trainable_state_keys
from crabplus.train.guards import NonFiniteGuard, grads_are_finite
from crabplus.train.optim import OptimizerConfig, build_optimizer
from crabplus.train.prediction_rows import prediction_rows
from crabplus.train.rng import DeferredRNGRestore, capture_rng_state, gather_rng_states, restore_rng_state

__all__ = ["AVLLMModule"]

GPU_REPRODUCIBILITY = (
    "reproducibility: on CPU a pinned config (seed, threads, data.stream_slots) gives bit-identical weights; "
    "on GPU it does not: atomic-add kernels (embedding and index/scatter backward), the attention backward "
    "and cuBLAS split-K reductions sum in run-dependent order, so weights may differ in the last bits between "
    "runs (trainer.deterministic=true trades speed for deterministic kernels where torch has them)."
)


class AVLLMModule(L.LightningModule):
    """Train and evaluate one AV-LLM on many tasks.

    Args:
        preset: model preset name (``crabplus.model`` registry), e.g. ``tiny-modular``, ``tiny-omni``,
            ``crab-llama2``, ``qwen2.5-omni-7b``.
        model_overrides: keyword overrides for the preset (paths of real checkpoints, sizes, connector).
        adapter: I-LoRA settings (fields of :class:`crabplus.lora.ILoRAConfig`); None trains no adapter.
        trainable: ``adapters`` (only adapter weights), ``adapters+connectors`` (Crab's unified stage),
            ``connectors`` (projector pre-training) or ``full``.
        optimizer: AdamW and warm-up + cosine schedule settings.
        max_new_tokens: generation budget in validation/test (greedy decoding only).
        generate_in_validation: run generation + task metrics at validation (off: loss only).
        max_skipped_steps: non-finite steps tolerated before the run stops.
        variant: free label of the recipe (e.g. ``lora``, ``ilora``) used by the transfer report.
        balance: modality balancing (``crabplus.balance``: MLB, OGM-GE, multi-loss); its unimodal branches
            are modality-dropped forward passes, its coefficients scale ``model.modality_parameters()``
            gradients through ``ModalityBalanceCallback`` (add it to ``trainer.callbacks``).
        logits: ``answers`` applies the LM head at answer positions only (same loss, less work: most of a
            sequence is media, prompt and padding); ``all`` computes every position's logits (the old path).
        feature_cache_mb: memory for frozen encoder outputs reused across visits of a clip (0 = off; off
            by itself with trainable or adapted encoders, see ``crabplus.model.FeatureCache``).
        feature_cache_dir: also keep those features on disk there (e.g. beside the shards).
        length_groups: with ``logits=answers``, run the LM on up to this many groups of rows of similar
            length (less padding, same loss; see ``crabplus.model.AVLLM.forward``); 1 = one call per batch.
        dropout_draw: how adapter dropout draws its mask: ``bits`` (``crabplus.lora.bits_dropout``: 16-bit
            lanes, ~2x cheaper on CPU) or ``bernoulli`` (``F.dropout``, the old draw); same distribution.
        fused_adapter: compute each adapted linear's I-LoRA term as one autograd node with a hand-derived
            backward (``crabplus.lora.fused``; same values within float rounding, fewer nodes) where it
            applies; False keeps autograd's graph of the same maths (the old path).
    """

    def __init__(
        self,
        preset: str = "tiny-modular",
        model_overrides: dict[str, Any] | None = None,
        adapter: ILoRAConfig | None = None,
        trainable: str = "adapters+connectors",
        optimizer: OptimizerConfig | None = None,
        max_new_tokens: int = 48,
        generate_in_validation: bool = True,
        max_skipped_steps: int = 10,
        variant: str = "",
        balance: BalanceStrategy | None = None,
        logits: str = "answers",
        feature_cache_mb: float = 256.0,
        feature_cache_dir: str | None = None,
        length_groups: int = 3,
        dropout_draw: str = "bits",
        fused_adapter: bool = True,
    ) -> None:
        super().__init__()
        # A checkpoint's hparams hold these blocks as plain dicts; the types above are what users write.
        optimizer = as_config(OptimizerConfig, optimizer, "model.init_args.optimizer")
        adapter = as_config(ILoRAConfig, adapter, "model.init_args.adapter")
        self.optimizer_config = optimizer or OptimizerConfig()
        self.balance = balance
        self.save_hyperparameters(ignore=["optimizer", "adapter", "balance"])
        self.hparams["optimizer"] = asdict(self.optimizer_config)
        self.hparams["adapter"] = asdict(adapter) if adapter is not None else None
        self.model, self.num_trainable = build_adapted_avllm(
            preset, model_overrides or {}, adapter, trainable
        )
        if feature_cache_mb > 0:
            self.model.feature_cache = FeatureCache(int(feature_cache_mb * 2**20), feature_cache_dir)
        if dropout_draw not in DROPOUT_DRAWS:
            raise ValueError(
                f"model.init_args.dropout_draw={dropout_draw!r}; valid: {', '.join(DROPOUT_DRAWS)}"
            )
        for layer in self.model.modules():
            if isinstance(layer, ILoRALinear):
                layer.dropout_draw, layer.fused = dropout_draw, fused_adapter
        self.guard = NonFiniteGuard(max_skipped_steps)
        self.metrics = torch.nn.ModuleDict()
        # task id = position in task_names; its head is the training mixture's order (saved in checkpoints)
        self.task_names: list[str] = []
        self.train_tasks: list[str] | None = None
        # (task, item key, prediction, target) of the current evaluation, for the results store's items
        self.eval_items: list[tuple[str, str, dict, dict]] = []
        self.strict_loading = False  # checkpoints hold trainable parts only
        self.keep_prediction_rows = False  # validation/test steps return prediction rows (PredictionWriter)
        self.skip_prediction_keys: set[tuple[str, str]] = set()  # (task, key) already predicted
        self.deferred_rng: DeferredRNGRestore | None = None  # set by on_load_checkpoint, applied at batch 1
        self.training_rng: dict[str, Any] | None = None  # the RNG before a validation inside fit

    # ----- construction -------------------------------------------------------------------------------
    def setup(self, stage: str) -> None:
        datamodule = getattr(self.trainer, "datamodule", None)
        media = getattr(datamodule, "media", None)
        if isinstance(media, MediaSpec) and media.decode:
            problems = media.audio_mismatches(self.model.media_spec)
            if problems:
                raise ConfigError(
                    f"data.init_args.media: {'; '.join(problems)} for model preset {self.hparams.get('preset')!r}"
                )
            check_media_fits(media, self.model.media_spec, self.hparams.preset)
        names = list(getattr(datamodule, "task_names", []) or [])
        names += [n for n in getattr(datamodule, "val_task_names", []) or [] if n not in names]
        if stage == "fit":
            self.train_tasks = list(getattr(datamodule, "task_names", []) or []) or None
        self.task_names = names
        for name in names:
            if name not in self.metrics:
                self.metrics[name] = tasks.get(name).make_metric()
        if self.train_tasks is not None:
            self._number_tasks_as_trained(self.train_tasks)

    def _number_tasks_as_trained(self, train_tasks: list[str]) -> None:
        """Put the training tasks first, in training order, so a task's id (its position in ``task_names``)
        is the one the adapter was trained with whatever task set or order is evaluated; a task-routed adapter
        has no gate row for a task it never saw, so evaluating one stops here."""
        self.train_tasks = list(train_tasks)
        unseen = [n for n in self.task_names if n not in self.train_tasks]
        adapter = self.hparams.get("adapter") or {}
        if unseen and adapter.get("routing") == "task":
            raise ConfigError(
                f"data.init_args.tasks: {unseen} not among the tasks this task-routed adapter (routing: task) "
                f"was trained on, {self.train_tasks}: it has no gate row for them; evaluate those tasks only"
            )
        self.task_names = self.train_tasks + unseen

    def routing_task_ids(self, batch: Batch) -> torch.Tensor | None:
        """Each sample's task id for the adapter: its task's position in ``task_names`` (training order
        first). The data side numbers tasks by the current config, which outside ``fit`` may differ."""
        ids = batch.get("task_id")
        if ids is None or self.train_tasks is None:
            return ids
        return torch.tensor(
            [self.task_names.index(t) for t in batch["task"]], dtype=ids.dtype, device=ids.device
        )

    def on_fit_start(self) -> None:
        total = sum(p.numel() for p in self.model.parameters())
        self.print(f"trainable parameters: {self.num_trainable:,} of {total:,} ({self.hparams.trainable})")
        for logger in self.loggers:
            logger.log_metrics(
                {"params/trainable": float(self.num_trainable), "params/total": float(total)}, 0
            )
        if self.device.type != "cpu":
            self.print(GPU_REPRODUCIBILITY)

    def on_fit_end(self) -> None:
        """The run's skip counts (all ranks) beside its metrics: ``<log dir>/skipped.json``."""
        datamodule = getattr(self.trainer, "datamodule", None)
        if datamodule is None or not hasattr(datamodule, "skip_counts"):
            return
        counts = {**datamodule.skip_counts(), **datamodule.skip_counts_by_kind()}
        if self.trainer.world_size > 1:  # the same keys on every rank (skip_counts_by_kind)
            total = self.trainer.strategy.reduce(
                torch.tensor(list(counts.values()), dtype=torch.float64), reduce_op="sum"
            )
            counts = dict(zip(counts, (int(v) for v in total.tolist())))
        log_dir = self.trainer.log_dir  # on every rank: Trainer.log_dir broadcasts from rank 0 under DDP
        if self.trainer.is_global_zero and log_dir:
            out = {"step": int(self.global_step), "skipped": counts}
            (Path(log_dir) / "skipped.json").write_text(json.dumps(out, indent=1, sort_keys=True))

    # ----- steps -----------------------------------------------------------------------------------------
    def forward(self, batch: Batch) -> AVLLMOutput:
        tokens = self.model.tokenize(batch["prompt"], batch["answer"])
        tokens = {k: v.to(self.device) for k, v in tokens.items()}
        media = encoded_media(batch)
        return self.model(
            **tokens,
            **media,
            task_ids=self.routing_task_ids(batch),
            mask=batch.get("mask"),
            logits=self.hparams.get("logits", "all"),
            media_keys=batch.get("key"),
            length_groups=self.hparams.get("length_groups", 1),
        )

    def task_loss(self, batch: Batch) -> torch.Tensor:
        """The training loss of one batch (used by the gradient-conflict callback)."""
        return self.forward(batch).loss + self._aux_loss()

    def _aux_loss(self) -> torch.Tensor | float:
        """Router balance loss (when enabled) plus, on several processes, a zero-valued term touching one
        element of every trainable tensor: a modality-homogeneous batch skips one encoder and its connector,
        and DDP without ``find_unused_parameters`` needs a gradient for every parameter in every step."""
        total: torch.Tensor | float = 0.0
        extra = balance_loss(self.model)
        if extra is not None:
            total = total + extra
        if self._trainer is not None and self.trainer.world_size > 1:
            total = total + sum(p.view(-1)[0] * 0.0 for p in self.model.parameters() if p.requires_grad)
        return total

    def training_step(self, batch: Batch, batch_idx: int) -> torch.Tensor:
        if self.balance is not None and _has_two_modalities(batch):
            output, parts = self._balanced_losses(batch)
            loss = parts["loss"] + self._aux_loss()
            for name, value in parts.items():
                if name != "loss":
                    self.log(f"balance/{name}", value.detach(), batch_size=len(batch["prompt"]))
        else:
            output = self.forward(batch)
            loss = output.loss + self._aux_loss()
        # A non-finite loss is not dropped here: returning None would make this rank skip the gradient
        # all-reduce under DDP. Its NaN gradients reach every rank, and on_before_optimizer_step skips the
        # step everywhere at once.
        self.guard.observe_loss(loss)
        batch_size = len(batch["prompt"])
        self.log("train/loss", loss, prog_bar=True, batch_size=batch_size)
        for task, value in per_task_loss(
            output.logits, output.labels, batch["task"], output.token_loss
        ).items():
            self.log(f"train/loss/{task}", value, batch_size=batch_size)
        self._log_skip_counts()
        return loss

    def _log_skip_counts(self) -> None:
        """Cumulative skipped samples of the run (the DataModule's state, restored on resume) per task and
        per ``<task>/<kind>``, summed over ranks: the last logged value is the run's count."""
        datamodule = getattr(self.trainer, "datamodule", None) if self._trainer is not None else None
        if datamodule is None or not hasattr(datamodule, "skip_counts"):
            return
        counts = {f"data/skipped/{task}": n for task, n in datamodule.skip_counts().items()}
        counts.update({f"data/skipped/{key}": n for key, n in datamodule.skip_counts_by_kind().items()})
        sync = self.trainer.world_size > 1
        for key, n in counts.items():
            self.log(key, float(n), reduce_fx="sum", sync_dist=sync, batch_size=1)

    def _balanced_losses(self, batch: Batch) -> tuple[AVLLMOutput, dict[str, torch.Tensor]]:
        """The balancing strategy's losses (``crabplus.balance``) over fused and modality-dropped passes,
        and the fused pass's output (for the per-task loss log)."""
        outputs: dict[tuple[str, ...], AVLLMOutput] = {}

        def run(keep: tuple[str, ...]) -> AVLLMOutput:
            outputs[keep] = self.forward(drop_modalities(batch, keep))
            return outputs[keep]

        def branches(_: Batch):
            return dropped_modality_outputs(run, unimodal=self.balance.needs_unimodal)

        parts = self.balance.losses(branches, batch, self.global_step)
        return outputs[("audio", "video")], parts

    def on_before_optimizer_step(self, optimizer: torch.optim.Optimizer) -> None:
        params = [p for group in optimizer.param_groups for p in group["params"]]
        bad_loss = self.guard.loss_nonfinite
        if bad_loss or not grads_are_finite(params):
            for param in params:
                param.grad = None  # AdamW skips parameters without a gradient: the step becomes a no-op
            notice = self.guard.skip(
                self.global_step, "loss" if bad_loss else "gradient", self._last_checkpoint()
            )
            self.print(notice)
        self.log("train/skipped_steps", float(self.guard.skipped))

    def _last_checkpoint(self) -> str | None:
        """Path of the newest checkpoint the run wrote (for the non-finite stop message), if any."""
        callback = self.trainer.checkpoint_callback if self._trainer is not None else None
        path = getattr(callback, "last_model_path", "") or getattr(callback, "best_model_path", "")
        return path or None

    def _eval_step(self, stage: str, batch: Batch, dataloader_idx: int) -> list[dict] | None:
        task = batch["task"][0]
        output = self.forward(batch)
        batch_size = len(batch["prompt"])
        self.log(f"{stage}/{task}/loss", output.loss, batch_size=batch_size, add_dataloader_idx=False)
        if stage == "val" and not self.hparams.generate_in_validation:
            return None
        texts, predictions = self.generate_batch(batch)
        self.metrics[task].update(predictions, batch["target"])
        keys = batch.get("key") or [f"{dataloader_idx}:{len(self.eval_items) + i}" for i in range(batch_size)]
        self.eval_items.extend(zip([task] * batch_size, keys, predictions, batch["target"]))
        # rows for a PredictionWriter (``crabplus test --save_predictions``), which turns this on
        return prediction_rows(batch, texts, predictions) if self.keep_prediction_rows else None

    def generate_batch(self, batch: Batch) -> tuple[list[str], list[dict[str, Any]]]:
        """Greedy answer texts of one task-homogeneous batch and their parsed structured predictions."""
        media = encoded_media(batch)
        # with a mask head, answers holding <mask> get the head's mask (segmentation's Crab route)
        generate = self.model.generate_with_masks if self.model.mask_head is not None else self.model.generate
        generated = generate(
            batch["prompt"],
            **media,
            task_ids=self.routing_task_ids(batch),
            max_new_tokens=self.hparams.max_new_tokens,
            media_keys=batch.get("key"),
        )
        texts, masks = generated if isinstance(generated, tuple) else (generated, None)
        predictions = []
        for i, (name, text) in enumerate(zip(batch["task"], texts)):
            parsed = tasks.get(name).parse(text)
            if masks is not None and masks[i] is not None and not parsed.get("unparseable"):
                parsed["mask"] = masks[i]
            predictions.append(parsed)
        return list(texts), predictions

    def predict_batch(self, batch: Batch) -> list[dict[str, Any]]:
        """Greedy answers of one task-homogeneous batch, parsed into structured predictions."""
        return self.generate_batch(batch)[1]

    def validation_step(self, batch: Batch, batch_idx: int, dataloader_idx: int = 0) -> list | None:
        return self._eval_step("val", batch, dataloader_idx)

    def test_step(self, batch: Batch, batch_idx: int, dataloader_idx: int = 0) -> list | None:
        return self._eval_step("test", batch, dataloader_idx)

    def predict_step(self, batch: Batch, batch_idx: int, dataloader_idx: int = 0) -> list[dict]:
        """One row per item (``crabplus.train.prediction_rows``); a batch whose items are all in
        ``skip_prediction_keys`` (written by an interrupted run being resumed) is not generated again."""
        done = self.skip_prediction_keys
        if done and all((t, k) in done for t, k in zip(batch["task"], batch["key"])):
            return []
        texts, predictions = self.generate_batch(batch)
        return prediction_rows(batch, texts, predictions)

    def _log_metrics(self, stage: str) -> dict[str, float]:
        values: dict[str, float] = {}
        for task, metric in self.metrics.items():
            if not metric.update_called:
                continue
            for name, value in metric.compute().items():
                values[f"{stage}/{task}/{name}"] = float(value)
            metric.reset()
        if values:
            self.log_dict(values, sync_dist=False)
        return values

    def on_validation_epoch_start(self) -> None:
        self.eval_items = []

    def on_test_epoch_start(self) -> None:
        self.eval_items = []

    def on_validation_epoch_end(self) -> None:
        self._log_metrics("val")

    def on_test_epoch_end(self) -> None:
        self.test_results = self._log_metrics("test")

    # ----- optimisation and checkpoints ------------------------------------------------------------------
    def configure_optimizers(self) -> dict[str, Any]:
        total = (
            int(self.trainer.estimated_stepping_batches)
            if self.trainer.max_steps < 0
            else self.trainer.max_steps
        )
        optimizer, scheduler = build_optimizer(self.model.parameters(), self.optimizer_config, total)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}

    def configure_gradient_clipping(
        self, optimizer, gradient_clip_val=None, gradient_clip_algorithm=None
    ) -> None:
        clip = gradient_clip_val if gradient_clip_val is not None else self.optimizer_config.grad_clip
        if clip:
            self.clip_gradients(optimizer, gradient_clip_val=clip, gradient_clip_algorithm="norm")

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        trainable = trainable_state_keys(
            self.model, prefix="model."
        )  # names as in the state dict, also under FSDP
        checkpoint["state_dict"] = {k: v for k, v in checkpoint["state_dict"].items() if k in trainable}
        # every rank's RNG (a collective: Lightning builds the checkpoint dict on all ranks)
        # during a validation inside fit (a checkpoint written after it) the RNG to resume is training's
        validating = self._trainer is not None and self.trainer.validating and self.trainer.state.fn == "fit"
        local = self.training_rng if validating else None
        checkpoint["crabplus"] = {
            "rng": gather_rng_states(local),
            "skipped_steps": self.guard.skipped,
            "train_tasks": self.train_tasks,
        }

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        self.checkpoint_step = int(checkpoint.get("global_step", 0))
        extra = checkpoint.get("crabplus") or {}
        if "rng" in extra:
            # restored at the first training batch: building the DataLoader iterator after this hook
            # draws from the torch RNG, which the uninterrupted run did before the checkpoint (rng.py)
            self.deferred_rng = DeferredRNGRestore()
            self.deferred_rng.stash(extra["rng"], self.global_rank)
        self.guard.skipped = int(extra.get("skipped_steps", 0))
        # older checkpoints: the training order is the task list of the data module's saved state
        train_tasks = extra.get("train_tasks") or (checkpoint.get("MultiTaskDataModule") or {}).get("tasks")
        if train_tasks:
            self._number_tasks_as_trained(list(train_tasks))

    def on_train_batch_end(self, outputs: Any, batch: Any, batch_idx: int) -> None:
        # the training RNG as it stands before a validation that may follow this step (rng.py)
        self.training_rng = capture_rng_state()

    def on_validation_end(self) -> None:
        """Give training back its RNG: evaluation never consumes the training streams (exact resume from a
        checkpoint written at a validation step, same weights with or without validation)."""
        if (
            self.trainer.state.fn == "fit"
            and not self.trainer.sanity_checking
            and self.training_rng is not None
        ):
            restore_rng_state(self.training_rng)

    def on_train_batch_start(self, batch: Any, batch_idx: int) -> None:
        if self.deferred_rng is not None:
            self.deferred_rng.apply()  # a no-op after the first batch


# data.init_args.media field -> the model's media_spec key: the visual input's shape (the audio front end
# is checked by MediaSpec.audio_mismatches)
MEDIA_FIELDS = {"num_frames": "num_frames", "frame_size": "frame_size"}


def check_media_fits(media: Any, spec: dict[str, Any], preset: str) -> None:
    """Raise :class:`ConfigError` naming ``data.init_args.media.<field>`` when the data side would produce
    media of another shape than the preset's encoders take (checked at setup, before any step)."""
    for field, key in MEDIA_FIELDS.items():
        if key not in spec or not hasattr(media, field):
            continue
        have, want = getattr(media, field), spec[key]
        if have != want:
            raise ConfigError(
                f"data.init_args.media.{field}={have!r}, but preset {preset!r} takes {key}={want!r}; "
                f"set data.init_args.media.{field}: {want!r}"
            )


def _has_two_modalities(batch: Batch) -> bool:
    return batch.get("audio") is not None and (
        batch.get("video") is not None or batch.get("image") is not None
    )


def drop_modalities(batch: Batch, keep: tuple[str, ...]) -> Batch:
    """The batch with only the ``keep`` modalities ("video" covers images): media set to None and the
    placeholders removed from the prompts, so the LM sees a genuinely unimodal input."""
    dropped: Batch = {**batch}
    visual = ("video", "image")
    for key, placeholder in (("audio", "<audio>"), ("video", "<video>"), ("image", "<image>")):
        kept = ("video" in keep) if key in visual else (key in keep)
        if not kept and batch.get(key) is not None:
            dropped[key] = None
            dropped["prompt"] = [p.replace(placeholder, "") for p in dropped["prompt"]]
    return dropped


def per_task_loss(
    logits: torch.Tensor | None,
    labels: torch.Tensor,
    task_names: list[str],
    token_loss: torch.Tensor | None = None,
) -> dict[str, torch.Tensor]:
    """Mean next-token loss over answer tokens, per task (detached; for logging).

    Args:
        logits: (B, L, V) LM logits, or None when ``token_loss`` is given.
        labels: (B, L) targets aligned with ``logits`` positions before shifting, -100 where ignored.
        task_names: the task of each sample.
        token_loss: (B, L-1) per-token CE (0 where ignored), used instead of ``logits`` when given.
    """
    with torch.no_grad():
        shifted_labels = labels[:, 1:]  # (B, L-1)
        if token_loss is None:
            token_loss = F.cross_entropy(
                logits[:, :-1].float().transpose(1, 2), shifted_labels, ignore_index=-100, reduction="none"
            )  # (B, L-1)
        token_loss = token_loss.detach()
        valid = (shifted_labels != -100).float()
        summed: dict[str, list[torch.Tensor]] = {}
        for i, task in enumerate(task_names):
            summed.setdefault(task, [torch.zeros(()), torch.zeros(())])
            summed[task][0] = summed[task][0] + token_loss[i].sum().cpu()
            summed[task][1] = summed[task][1] + valid[i].sum().cpu()
        return {task: total / count.clamp_min(1) for task, (total, count) in summed.items()}
