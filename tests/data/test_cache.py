import pytest

from crabplus.data.cache import DecodedCache

pytestmark = pytest.mark.unit


def _raw(key: str) -> dict:
    return {"__shard__": "s.tar", "__key__": key}


def test_cache_decodes_once_per_key_and_evicts_least_recent():
    calls = []

    def decode(raw):
        calls.append(raw["__key__"])
        return {"key": raw["__key__"]}

    cache = DecodedCache(max_items=2)
    assert cache.get_or_decode(_raw("a"), decode) == {"key": "a"}
    cache.get_or_decode(_raw("b"), decode)
    first = cache.get_or_decode(_raw("a"), decode)  # hit; "a" becomes most recent
    first["task_id"] = 3  # callers mutate their copy, never the cached sample
    assert cache.get_or_decode(_raw("a"), decode) == {"key": "a"}
    cache.get_or_decode(_raw("c"), decode)  # evicts "b"
    cache.get_or_decode(_raw("b"), decode)
    assert calls == ["a", "b", "c", "b"]
    assert (cache.hits, cache.misses) == (2, 4)


def test_zero_size_always_decodes_and_failures_are_not_cached():
    calls = []

    def decode(raw):
        calls.append(raw["__key__"])
        raise ValueError("bad")

    cache = DecodedCache(max_items=4)
    for _ in range(2):
        with pytest.raises(ValueError):
            cache.get_or_decode(_raw("x"), decode)
    assert calls == ["x", "x"]
    off = DecodedCache(0)
    off.get_or_decode(_raw("y"), lambda r: {"k": 1})
    assert off.misses == 0 and off.hits == 0
