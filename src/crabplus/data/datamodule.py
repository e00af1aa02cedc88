"""``MultiTaskDataModule``: the weighted, resumable, modality-homogeneous multi-task data pipeline.

Training yields mixed batches (see ``mixture.py`` for the sampling, ``loaders.py`` for the order
guarantee); validation, test and predict yield one loader per task in ``val_task_names`` order, never
mixed. Only ``fit`` reads the train split: a test-only benchmark (no ``train/`` folder) can be evaluated.
The mixture state (next batch index, stream positions per worker residue, skip counts) is saved in
Lightning checkpoints via ``state_dict`` / ``load_state_dict`` (restored only when resuming ``fit``: a
checkpoint evaluates on any task set) and recorded from each consumed batch in
``on_before_batch_transfer`` (Lightning calls it when a batch is actually used, not when prefetched).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict

import lightning as L
from torch.utils.data import DataLoader

from crabplus import tasks
from crabplus.data.batch import Batch
from crabplus.data.loaders import EvalTaskDataset, SkipPolicy, TaskSource, TrainMixtureDataset
from crabplus.data.mixture import Mixture, mixture_weights
from crabplus.data.sample import SKIP_KINDS, MediaSpec, modalities_of
from crabplus.data.shards import read_index, shard_paths
from crabplus.data.task_entry import TaskEntry, task_entries
from crabplus.errors import CrabplusError

__all__ = ["MultiTaskDataModule", "TaskEntry", "UnknownTaskError"]


class UnknownTaskError(CrabplusError, KeyError):
    """A configured task name the task registry does not know (message printed without repr quoting)."""


class ResumeMismatchError(CrabplusError, ValueError):
    """A checkpoint's data state that this DataModule cannot continue exactly (other tasks, seed, workers)."""


def _default_lookup(name: str):
    return tasks.get(name)


class MultiTaskDataModule(L.LightningDataModule):
    """Multi-task data from shard folders.

    Args:
        root: dataset root holding ``<task>/<split>/`` folders.
        tasks: the mixture, one :class:`TaskEntry` per task (``{name, weight, root, eval}``); list order =
            task id. Python callers may pass task names or dicts; either way a misspelt key or a wrong
            type fails naming ``data.tasks[i].<key>``.
        batch_size: samples per batch on each rank.
        num_workers: DataLoader workers (exact resume needs the same value).
        seed: mixture and shuffling seed.
        temperature: if set, weights ∝ num_samples ** (1 / temperature) instead of ``weight``.
        shuffle_buffer: raw samples held per task stream for shuffling.
        media: what to decode (the model preset dictates it).
        num_batches: batches per training epoch (None = infinite; bound the run with ``max_steps``).
        max_skip_share: share of unusable samples a stream tolerates before the run stops.
        skip_min_samples: samples a stream must have seen before that share is judged.
        train_split, val_split, test_split, predict_split: split folder names (``predict`` reads
            ``predict_split``, the test split by default).
        task_lookup: ``name -> Task`` (default ``crabplus.tasks.get``).
        cache_decoded: decoded training samples each worker keeps in memory (0 = none); worth it when a
            run revisits a small dataset many times (see ``data/cache.py``).
        stream_slots: task-stream slots per rank (default: ``max(1, num_workers)``). The training batches
            depend on it and not on ``num_workers``: pin it and any ``num_workers`` dividing it gives the same
            batches, bit for bit (``loaders.py``).
    """

    def __init__(
        self,
        root: str,
        tasks: list[TaskEntry | str],
        batch_size: int = 8,
        num_workers: int = 2,
        seed: int = 0,
        temperature: float | None = None,
        shuffle_buffer: int = 64,
        media: MediaSpec | None = None,
        num_batches: int | None = None,
        max_skip_share: float = 0.1,
        skip_min_samples: int = 20,
        train_split: str = "train",
        val_split: str = "val",
        test_split: str = "test",
        predict_split: str | None = None,
        task_lookup: Callable | None = None,
        cache_decoded: int = 0,
        stream_slots: int | None = None,
    ):
        super().__init__()
        self.stream_slots = int(stream_slots) if stream_slots else max(1, num_workers)
        self.cache_decoded = cache_decoded
        self.root, self.batch_size, self.num_workers, self.seed = root, batch_size, num_workers, seed
        self.entries = task_entries(tasks)
        self.temperature, self.shuffle_buffer, self.media = temperature, shuffle_buffer, media or MediaSpec()
        self.num_batches, self.splits = (
            num_batches,
            {
                "train": train_split,
                "val": val_split,
                "test": test_split,
                "predict": predict_split or test_split,
            },
        )
        self.skip = SkipPolicy(max_skip_share, skip_min_samples)
        self.task_lookup = task_lookup or _default_lookup
        self.task_names: list[str] = [e.name for e in self.entries]
        self.val_task_names = [e.name for e in self.entries if e.eval]
        self._next_batch, self._positions, self._skipped = 0, {}, {}
        self._skipped_by_kind: dict[str, int] = {}
        self._resume_from: tuple[int, int] | None = None  # (loader slots, world size) of a loaded state
        self._train: TrainMixtureDataset | None = None
        self.mixture: Mixture | None = None

    # --- sources and mixture --------------------------------------------------------------------
    def root_of(self, entry: TaskEntry) -> str:
        """The dataset root holding ``entry``'s shards."""
        return entry.root or self.root

    def _source(self, entry: TaskEntry, split: str) -> tuple[TaskSource, int]:
        self._check_task(entry.name)
        index = read_index(self.root_of(entry), entry.name, split)
        mods = modalities_of(index.get("media", []), self.media)
        paths = tuple(shard_paths(self.root_of(entry), entry.name, split))
        return TaskSource(entry.name, paths, mods), int(index["num_samples"])

    def _check_task(self, name: str) -> None:
        try:
            self.task_lookup(name)
        except KeyError as err:
            reason = err.args[0] if err.args else f"unknown task {name!r}"
            raise UnknownTaskError(f"data.init_args.tasks: {reason}") from err

    def setup(self, stage: str | None = None) -> None:
        """For ``fit`` (or no stage): read the train index files and fix the mixture (no shard is opened).
        Evaluation stages read their split's index when their loaders are built."""
        if stage in (None, "fit"):
            self._build_mixture()

    def _build_mixture(self) -> None:
        if self.mixture is not None:
            return
        found = [self._source(e, self.splits["train"]) for e in self.entries]
        self._train_sources = [s for s, _ in found]
        sizes = {s.name: n for s, n in found}
        weights = mixture_weights(sizes, {e.name: e.weight for e in self.entries}, self.temperature)
        self.mixture = Mixture.build({s.name: s.modalities for s in self._train_sources}, weights, self.seed)

    @property
    def task_weights(self) -> dict[str, float]:
        self._build_mixture()
        return dict(zip(self.mixture.tasks, self.mixture.weights))

    def _dist(self) -> tuple[int, int]:
        trainer = getattr(self, "trainer", None)
        return (trainer.global_rank, trainer.world_size) if trainer is not None else (0, 1)

    # --- loaders -------------------------------------------------------------------------------------
    def train_dataloader(self) -> DataLoader:
        self._build_mixture()
        rank, world = self._dist()
        self._check_resume(world)
        ds = TrainMixtureDataset(
            self._train_sources,
            self.mixture,
            self.media,
            self.batch_size,
            self.task_lookup,
            rank,
            world,
            self.seed,
            self.shuffle_buffer,
            self.skip,
            self.num_batches,
            self.cache_decoded,
            self.stream_slots,
        )
        ds.start, ds.positions = self._next_batch, {int(c): dict(p) for c, p in self._positions.items()}
        self._train, self._world = ds, world
        return self._loader(ds)

    def _loader(self, ds) -> DataLoader:
        kwargs = {"prefetch_factor": 2} if self.num_workers > 0 else {}
        return DataLoader(
            ds, batch_size=None, num_workers=self.num_workers, persistent_workers=False, **kwargs
        )

    def _eval_loaders(self, split: str) -> list[DataLoader]:
        rank, world = self._dist()
        loaders = []
        for entry in self.entries:
            if entry.eval:
                source, _ = self._source(entry, split)
                ds = EvalTaskDataset(
                    source,
                    self.task_names.index(entry.name),
                    self.media,
                    self.batch_size,
                    self.task_lookup,
                    rank,
                    world,
                    self.skip,
                )
                loaders.append(self._loader(ds))
        return loaders

    def val_dataloader(self) -> list[DataLoader]:
        return self._eval_loaders(self.splits["val"])

    def test_dataloader(self) -> list[DataLoader]:
        return self._eval_loaders(self.splits["test"])

    def predict_dataloader(self) -> list[DataLoader]:
        return self._eval_loaders(self.splits["predict"])

    # --- bookkeeping of consumed batches --------------------------------------------------------
    def on_before_batch_transfer(self, batch: Batch, dataloader_idx: int) -> Batch:
        self.observe(batch)
        return batch

    def observe(self, batch: Batch) -> None:
        """Record a consumed batch: skip counts, and for training batches the resume point."""
        for task, n in batch.get("skipped", {}).items():
            self._skipped[task] = self._skipped.get(task, 0) + int(n)
        for key, n in batch.get("skipped_by_kind", {}).items():
            self._skipped_by_kind[key] = self._skipped_by_kind.get(key, 0) + int(n)
        if "batch_index" in batch:
            self._next_batch = int(batch["batch_index"]) + 1
            state = batch["stream_state"]
            self._positions[int(state["residue"])] = dict(state["positions"])
            if self._train is not None:  # the next ``iter`` (next epoch) starts here
                self._train.start = self._next_batch
                self._train.positions = {c: dict(p) for c, p in self._positions.items()}

    def skip_counts(self) -> dict[str, int]:
        """Samples skipped per task so far (all workers, train and eval), for logging."""
        return {t: self._skipped.get(t, 0) for t in self.task_names}

    def skip_counts_by_kind(self) -> dict[str, int]:
        """Samples skipped so far per ``"<task>/<kind>"``, every task and kind (the same keys on every rank)."""
        keys = [f"{t}/{kind}" for t in self.task_names for kind in SKIP_KINDS]
        return {k: self._skipped_by_kind.get(k, 0) for k in keys}

    def state_dict(self) -> dict:
        return {
            "next_batch": self._next_batch,
            "positions": {str(c): dict(p) for c, p in self._positions.items()},
            "skipped": dict(self._skipped),
            "skipped_by_kind": dict(self._skipped_by_kind),
            "num_workers": self.num_workers,
            "stream_slots": self.stream_slots,
            "world_size": self._dist()[1],
            "seed": self.seed,
            "tasks": list(self.task_names),
            "media": asdict(self.media),
        }

    def load_state_dict(self, state: dict) -> None:
        """Restore the mixture's position when resuming ``fit``; ignored when a checkpoint is validated,
        tested or used to predict (possibly on other tasks or splits: nothing of the mixture is used)."""
        trainer = getattr(self, "trainer", None)
        if trainer is not None and trainer.state.fn is not None and trainer.state.fn != "fit":
            return
        if list(state["tasks"]) != self.task_names or state["seed"] != self.seed:
            raise ResumeMismatchError(
                f"data state is for tasks {state['tasks']} seed {state['seed']}, "
                f"this DataModule has {self.task_names} seed {self.seed}"
            )
        self._next_batch = int(state["next_batch"])
        self._positions = {int(c): dict(p) for c, p in state["positions"].items()}
        self._skipped = dict(state["skipped"])
        self._skipped_by_kind = dict(state.get("skipped_by_kind", {}))
        slots = state.get("stream_slots") or max(1, int(state["num_workers"]))  # older states: one per worker
        self._resume_from = (int(slots), int(state["world_size"]))

    def _check_resume(self, world: int) -> None:
        saved = self._resume_from
        if saved is not None and saved != (self.stream_slots, world) and self._positions:
            raise ResumeMismatchError(
                f"exact data resume needs the checkpoint's data.init_args.stream_slots={saved[0]} and world "
                f"size {saved[1]}; got stream_slots={self.stream_slots}, world size {world}. Resume with "
                f"--data.init_args.stream_slots={saved[0]} (any num_workers) on {saved[1]} process(es)"
            )
