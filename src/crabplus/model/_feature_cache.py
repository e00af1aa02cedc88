"""Frozen-encoder feature cache: a clip's encoder output is computed once and reused while nothing changed.

Why: with frozen encoders and no augmentation, every epoch runs CLIP over the same frames and the audio
encoder over the same log-mel again (Crab extracted CLIP features offline for this reason). The cache keys
each sample's encoder output by

- the sample key (``shard:key`` of the data pipeline, which names the shard),
- the modality and the encoder's fingerprint (a hash of its weights, recomputed when any weight tensor is
  replaced or modified in place: ``load_state_dict`` or an optimizer step gives new features),
- the media fingerprint: shape, dtype and a hash of the input tensor itself, so a changed media setting
  (frames, frame size, mel bins, hop, clip length, a resize) never reads features of the old one.

It turns itself off (the reason logged once) when the encoder's output may change between two calls with
the same input: a trainable encoder parameter, adapter layers inside the encoder, or dropout active in a
training-mode encoder; and for sharded encoders (FSDP, ZeRO-3), whose fingerprint would be recomputed over
regathered weights every step. The fingerprint is computed once per weight state (a full pass over the
encoder's weights: about a second for a CLIP-L on CPU). Entries live in memory up to ``max_bytes`` (least recently used evicted first);
with ``directory`` set they are also written there (one ``.pt`` file per entry, beside the shards when
the caller points it there) and read back by later runs.
"""

from __future__ import annotations

import hashlib
import logging
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

from crabplus.model._media import Encoded

__all__ = ["FeatureCache", "cache_blocker", "encoder_fingerprint"]

log = logging.getLogger(__name__)


def _tensor_digest(h, tensor: torch.Tensor) -> None:
    t = tensor.detach().contiguous().cpu()
    h.update(f"{t.dtype}{tuple(t.shape)}".encode())
    if t.numel():
        h.update(t.view(-1).view(torch.uint8).numpy().tobytes())


def encoder_fingerprint(encoder: nn.Module) -> str:
    """sha1 over the encoder's class, parameter and buffer names, dtypes, shapes and values."""
    h = hashlib.sha1(type(encoder).__qualname__.encode())
    for name, tensor in (*encoder.named_parameters(), *encoder.named_buffers()):
        h.update(name.encode())
        _tensor_digest(h, tensor)
    return h.hexdigest()


def media_fingerprint(x: torch.Tensor) -> str:
    """sha1 of one sample's encoder input (shape, dtype, values)."""
    h = hashlib.sha1()
    _tensor_digest(h, x)
    return h.hexdigest()


def cache_blocker(encoder: nn.Module) -> str | None:
    """Why this encoder's outputs must not be cached, or None when they may."""
    sharded = [
        n for n, p in encoder.named_parameters()
        if "flat_param" in n or hasattr(p, "ds_id") or type(p).__name__ == "DTensor"
    ]  # fmt: skip
    if (
        sharded
    ):  # FSDP / ZeRO-3 regather weights into new storage: the fingerprint would be rehashed each step
        return f"encoder parameter {sharded[0]!r} is sharded (FSDP or ZeRO-3)"
    adapted = [n for n, m in encoder.named_modules() if hasattr(m, "lora_A")]
    if adapted:
        return f"encoder module {adapted[0]!r} holds an adapter"
    trainable = [n for n, p in encoder.named_parameters() if p.requires_grad]
    if trainable:
        return f"encoder parameter {trainable[0]!r} is trainable"
    if encoder.training:
        active = [n for n, m in encoder.named_modules() if isinstance(m, nn.Dropout) and m.p > 0]
        config = getattr(encoder, "config", None)
        rates = vars(config) if config is not None else {}
        active += [
            f"config.{k}"
            for k, v in rates.items()
            if k.endswith("dropout") and isinstance(v, float) and v > 0
        ]
        if active:
            return f"encoder dropout {active[0]!r} is active (training mode)"
    return None


class FeatureCache:
    """Per-sample cache of frozen encoder outputs.

    Args:
        max_bytes: memory budget of the cached features (0 disables the cache).
        directory: optional folder where entries are also stored and looked up (survives the run).
        augmented: the data pipeline augments media (inputs differ per visit): caching is off.
    """

    def __init__(self, max_bytes: int, directory: str | Path | None = None, augmented: bool = False) -> None:
        self.max_bytes = int(max_bytes)
        self.directory = Path(directory) if directory else None
        self.augmented = augmented
        self.hits = 0
        self.misses = 0
        self.bytes = 0
        self._items: OrderedDict[str, tuple[torch.Tensor, tuple | None]] = OrderedDict()
        self._fingerprints: dict[int, tuple[tuple, str]] = {}
        self._verdicts: dict[int, tuple[tuple, str | None]] = {}
        self._last_state: tuple[nn.Module, tuple] | None = None
        self._logged: set[str] = set()

    @property
    def hit_rate(self) -> float:
        total = self.hits + self.misses
        return self.hits / total if total else 0.0

    def _fingerprint(self, encoder: nn.Module) -> str:
        """The encoder's fingerprint, rehashed only when a tensor was replaced or modified in place."""
        state = self._state(encoder)[1]
        known = self._fingerprints.get(id(encoder))
        if known is None or known[0] != state:
            known = (state, encoder_fingerprint(encoder))
            self._fingerprints[id(encoder)] = known
        return known[1]

    def _state(self, encoder: nn.Module) -> tuple:
        """(training mode, each tensor's storage, version and trainability): what the verdict and the
        fingerprint depend on. Read once per ``usable`` call; the ``encode`` that follows for the same
        encoder reuses it (walking the module tree again was most of a cache hit's cost)."""
        last = self._last_state
        if last is not None and last[0] is encoder:
            self._last_state = None
            return last[1]
        tensors = (*encoder.parameters(), *encoder.buffers())
        return encoder.training, tuple((t.data_ptr(), t._version, t.requires_grad) for t in tensors)

    def usable(self, modality: str, encoder: nn.Module) -> bool:
        """Whether outputs of ``encoder`` may be cached now; the reason it may not is logged once.

        The verdict is recomputed whenever the training mode, a weight, a trainability flag or the set of
        tensors (an adapter injected) changed since the last call.
        """
        if self.max_bytes <= 0:
            return False
        if self.augmented:
            reason = "the data pipeline augments media"
        else:
            self._last_state = None
            state = self._state(encoder)
            known = self._verdicts.get(id(encoder))
            if known is None or known[0] != state:
                known = (state, cache_blocker(encoder))
                self._verdicts[id(encoder)] = known
            reason = known[1]
            self._last_state = (encoder, state)
        if reason is not None and reason not in self._logged:
            self._logged.add(reason)
            log.warning("feature cache off for %s: %s", modality, reason)
        return reason is None

    def encode(
        self,
        modality: str,
        encoder: nn.Module,
        x: torch.Tensor,
        keys: list[str],
        encode: Callable[[torch.Tensor], Encoded],
    ) -> Encoded:
        """``encode(x)`` for a batch ``x`` (B, ...), encoding only the samples not cached yet.

        ``keys`` name each sample (``shard:key``). A sample that misses is encoded on its own: a batched
        kernel may round a row differently with other rows beside it, and a cached value must not depend
        on which samples happened to share its first batch (a resumed run, whose cache starts empty, then
        gets bit-identical features). The result equals ``encode(x)`` within float rounding.
        """
        if len(keys) != x.shape[0]:
            raise ValueError(
                f"feature cache: {len(keys)} media keys for a batch of {x.shape[0]} ({modality})"
            )
        fingerprint = self._fingerprint(encoder)
        names = [f"{modality}|{k}|{fingerprint}|{media_fingerprint(x[i])}" for i, k in enumerate(keys)]
        found = [self._lookup(n) for n in names]
        missing = [i for i, f in enumerate(found) if f is None]
        self.hits += len(keys) - len(missing)
        self.misses += len(missing)
        for i in missing:
            fresh = encode(x[i : i + 1])  # (1, G, P, c)
            found[i] = (fresh.groups[0].detach().clone(), fresh.grid)
            self._store(names[i], found[i])
        grids = {f[1] for f in found}
        if len(grids) != 1:
            raise ValueError(f"feature cache: samples of one {modality} batch have different grids {grids}")
        groups = torch.stack([f[0] for f in found]).to(x.device)  # (B, G, P, c)
        return Encoded(groups, found[0][1])

    def _path(self, name: str) -> Path:
        return self.directory / f"{hashlib.sha1(name.encode()).hexdigest()}.pt"

    def _lookup(self, name: str) -> tuple[torch.Tensor, tuple | None] | None:
        entry = self._items.get(name)
        if entry is not None:
            self._items.move_to_end(name)
            return entry
        if self.directory is not None and self._path(name).exists():
            saved = torch.load(self._path(name), map_location="cpu", weights_only=True)
            if saved.get("name") == name:  # a hash collision reads as a miss
                grid = tuple(saved["grid"]) if saved.get("grid") is not None else None
                entry = (saved["groups"], grid)
                self._remember(name, entry)
                return entry
        return None

    def _store(self, name: str, entry: tuple[torch.Tensor, tuple | None]) -> None:
        self._remember(name, entry)
        if self.directory is not None:
            self.directory.mkdir(parents=True, exist_ok=True)
            tmp = self._path(name).with_suffix(".tmp")
            grid = list(entry[1]) if entry[1] is not None else None
            torch.save({"name": name, "groups": entry[0].cpu(), "grid": grid}, tmp)
            tmp.replace(self._path(name))

    def _remember(self, name: str, entry: tuple[torch.Tensor, tuple | None]) -> None:
        size = entry[0].numel() * entry[0].element_size()
        if size > self.max_bytes:
            return
        self._items[name] = entry
        self.bytes += size
        while self.bytes > self.max_bytes:
            _, (old, _) = self._items.popitem(last=False)
            self.bytes -= old.numel() * old.element_size()
