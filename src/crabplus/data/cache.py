"""Per-worker cache of decoded training samples.

Why: small datasets (the synthetic world, a quick ablation) are revisited many times per run, and
decoding mp4 + AAC + log-mel each time makes the DataLoader, not the model, the bottleneck on CPU.
Each DataLoader worker keeps its own cache: workers read disjoint shard slots, so nothing is cached
twice, and with an infinite stream a worker lives for the whole run. Decoding is deterministic, so a
cached sample equals a freshly decoded one.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable

__all__ = ["DecodedCache"]


class DecodedCache:
    """Bounded LRU map ``shard:key -> decoded sample``.

    Args:
        max_items: samples kept per worker (0 disables caching).
    """

    def __init__(self, max_items: int) -> None:
        self.max_items = max_items
        self._items: OrderedDict[str, dict] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def get_or_decode(self, raw: dict, decode: Callable[[dict], dict]) -> dict:
        """A shallow copy of the cached decoded sample of ``raw``, decoding it on a miss.

        Failures (``BadSample``) are not cached: they propagate so the caller skips and counts them.
        """
        if self.max_items <= 0:
            return decode(raw)
        key = f"{raw['__shard__']}:{raw['__key__']}"
        sample = self._items.get(key)
        if sample is None:
            self.misses += 1
            sample = decode(raw)
            self._items[key] = sample
            if len(self._items) > self.max_items:
                self._items.popitem(last=False)
        else:
            self.hits += 1
            self._items.move_to_end(key)
        return dict(sample)
