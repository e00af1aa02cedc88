"""Frozen-encoder feature cache: cached features equal fresh ones, a changed encoder or media setting
never reads stale features, adapters / trainable encoders turn it off (reason logged once), and generation
encodes media once per batch (not per generated token)."""

from __future__ import annotations

import logging

import pytest
import torch

from crabplus.lora import ILoRAConfig, inject
from crabplus.model import FeatureCache, build_avllm, set_trainable
from crabplus.model._feature_cache import cache_blocker

PROMPTS = ["<video><audio> what is it?", "<video><audio> where?"]
ANSWERS = ["a dog", "left"]


class CallCounter:
    """Counts forward calls of a module and the samples they received."""

    def __init__(self, module: torch.nn.Module) -> None:
        self.calls, self.samples = 0, 0
        module.register_forward_hook(self._hook)

    def _hook(self, module, args, kwargs_or_out, *rest) -> None:
        self.calls += 1


def model_with_cache(**overrides):
    """The tiny model as trained by the demo (frozen encoders, trainable connectors) with a cache."""
    model = build_avllm("tiny-modular", **overrides).eval()
    set_trainable(model, "connectors")
    model.feature_cache = FeatureCache(64 * 2**20)
    return model


def encode(model, media, keys):
    feats, encoded = model.encode_media(video=media["video"], audio=media["audio"], media_keys=keys)
    return feats, encoded


@pytest.mark.unit
def test_cached_features_equal_fresh_ones_and_skip_the_encoder(media) -> None:
    model = model_with_cache()
    m = media(2)
    vision = CallCounter(model.vision_encoder)
    fresh, _ = model.encode_media(video=m["video"], audio=m["audio"])  # no keys: no cache
    first, _ = encode(model, m, ["s0:a", "s0:b"])
    calls_after_miss = vision.calls
    second, _ = encode(model, m, ["s0:a", "s0:b"])
    assert (
        vision.calls == calls_after_miss == 3
    )  # the fresh pass and one per missed sample; the hit runs none
    for name in ("video", "audio"):
        assert torch.allclose(first[name], fresh[name], atol=1e-6)
        assert torch.equal(second[name], first[name])
    cache = model.feature_cache
    assert (cache.hits, cache.misses) == (4, 4)  # 2 samples x 2 modalities each time
    assert cache.hit_rate == 0.5


@pytest.mark.unit
def test_only_the_missing_rows_are_encoded(media) -> None:
    model = model_with_cache()
    m = media(3)
    encode(model, {k: v[:2] for k, v in m.items()}, ["s:a", "s:b"])
    seen: list[int] = []
    model.vision_encoder.register_forward_hook(
        lambda mod, a, k, out: seen.append(k["pixel_values"].shape[0]), with_kwargs=True
    )
    feats, _ = encode(model, m, ["s:a", "s:b", "s:c"])
    assert seen == [4]  # one clip of 4 frames: only sample c
    encode(model, {k: v.flip(0) for k, v in m.items()}, ["s:c2", "s:b2", "s:a2"])
    assert seen == [4, 4, 4, 4]  # misses are encoded one sample at a time (history-independent values)
    fresh, _ = model.encode_media(video=m["video"], audio=m["audio"])
    assert torch.allclose(feats["video"], fresh["video"], atol=1e-6)


@pytest.mark.unit
def test_a_changed_encoder_is_not_served_stale_features(media) -> None:
    model = model_with_cache()
    m = media(2)
    before, _ = encode(model, m, ["s:a", "s:b"])
    with torch.no_grad():
        next(model.vision_encoder.parameters()).mul_(1.5)  # in place: as load_state_dict or an optimizer does
    after, _ = encode(model, m, ["s:a", "s:b"])
    fresh, _ = model.encode_media(video=m["video"], audio=m["audio"])
    assert not torch.allclose(after["video"], before["video"])
    assert torch.allclose(after["video"], fresh["video"], atol=1e-6)
    assert torch.equal(after["audio"], before["audio"])  # the audio encoder did not change: a hit


@pytest.mark.unit
def test_a_changed_media_setting_is_not_served_stale_features(media) -> None:
    model = model_with_cache()
    m = media(2)
    encode(model, m, ["s:a", "s:b"])
    # the same samples decoded with another setting: brighter frames (e.g. another resize) and 200 mel frames
    other = {"video": (m["video"] * 0.5), "audio": m["audio"][..., :200]}
    hits = model.feature_cache.hits
    feats, _ = encode(model, other, ["s:a", "s:b"])
    fresh, _ = model.encode_media(video=other["video"], audio=other["audio"])
    assert model.feature_cache.hits == hits  # every lookup missed
    for name in ("video", "audio"):
        assert torch.allclose(feats[name], fresh[name], atol=1e-6)


@pytest.mark.unit
def test_the_disk_copy_is_read_back_by_a_new_cache(media, tmp_path) -> None:
    model = model_with_cache()
    model.feature_cache = FeatureCache(2**20, tmp_path / "features")
    m = media(2)
    first, _ = encode(model, m, ["s:a", "s:b"])
    model.feature_cache = FeatureCache(2**20, tmp_path / "features")
    vision = CallCounter(model.vision_encoder)
    again, _ = encode(model, m, ["s:a", "s:b"])
    assert vision.calls == 0 and model.feature_cache.hits == 4
    assert torch.equal(again["video"], first["video"])


@pytest.mark.unit
def test_memory_budget_evicts_the_oldest_entries(media) -> None:
    model = model_with_cache()
    m = media(3)
    _, encoded = model.encode_media(video=m["video"][:1])
    one = encoded["video"].groups[0]
    model.feature_cache = FeatureCache(2 * one.numel() * one.element_size())  # room for two clips
    model.encode_media(video=m["video"], media_keys=["s:a", "s:b", "s:c"])
    assert model.feature_cache.bytes <= model.feature_cache.max_bytes
    model.encode_media(video=m["video"][2:], media_keys=["s:c"])
    model.encode_media(video=m["video"][:1], media_keys=["s:a"])
    assert (model.feature_cache.hits, model.feature_cache.misses) == (1, 4)  # c kept, a evicted


@pytest.mark.unit
def test_encoder_adapters_turn_the_cache_off_with_the_reason_logged_once(media, caplog) -> None:
    model = build_avllm("tiny-modular").eval()
    inject(model, ILoRAConfig(heads=2, encoder_target_modules={"audio_encoder": ["q_proj"]}))
    set_trainable(model, "adapters")
    model.feature_cache = FeatureCache(2**20)
    assert "adapter" in cache_blocker(model.audio_encoder)
    assert cache_blocker(model.vision_encoder) is None
    m = media(2)
    audio = CallCounter(model.audio_encoder)
    with caplog.at_level(logging.WARNING, logger="crabplus.model._feature_cache"):
        for _ in range(2):
            encode(model, m, ["s:a", "s:b"])
    assert audio.calls == 2  # never cached
    reasons = [r.getMessage() for r in caplog.records if "feature cache off" in r.getMessage()]
    assert len(reasons) == 1 and "audio" in reasons[0] and "adapter" in reasons[0]
    assert model.feature_cache.hits == 2  # the frozen, unadapted vision encoder still hits the second time


@pytest.mark.unit
def test_trainable_encoder_or_training_dropout_turns_it_off() -> None:
    model = build_avllm("tiny-modular")
    for p in model.vision_encoder.parameters():
        p.requires_grad_(False)
    assert cache_blocker(model.vision_encoder) is None
    next(model.vision_encoder.parameters()).requires_grad_(True)
    assert "trainable" in cache_blocker(model.vision_encoder)
    audio = model.audio_encoder
    for p in audio.parameters():
        p.requires_grad_(False)
    audio.config.dropout = 0.1
    audio.train()
    assert "dropout" in cache_blocker(audio)
    audio.eval()
    assert cache_blocker(audio) is None


@pytest.mark.unit
def test_the_verdict_follows_a_change_made_between_calls(media) -> None:
    """``usable`` keeps its verdict while nothing changed and revises it when an encoder weight is made
    trainable and back; a weight changed in place after a check is never served stale features."""
    model = model_with_cache()
    m = media(2)
    cache, vision = model.feature_cache, model.vision_encoder
    assert cache.usable("video", vision) and cache.usable("video", vision)
    weight = next(vision.parameters())
    weight.requires_grad_(True)
    assert not cache.usable("video", vision)
    weight.requires_grad_(False)
    assert cache.usable("video", vision)
    first = encode(model, m, ["s:a", "s:b"])[0]
    with torch.no_grad():
        weight.add_(0.5)  # in place: the same storage, a new version
    assert cache.usable("video", vision)
    fresh = model.encode_media(video=m["video"], audio=m["audio"])[0]
    again = encode(model, m, ["s:a", "s:b"])[0]
    assert not torch.equal(again["video"], first["video"]) and torch.equal(again["video"], fresh["video"])


@pytest.mark.unit
def test_generation_encodes_media_once_per_batch(media) -> None:
    """Media are encoded with the prompt only, however many tokens are generated; with the cache filled
    (e.g. by the evaluation's loss forward on the same batch) generation runs no encoder at all."""
    model = model_with_cache()
    m = media(2)
    vision, audio = CallCounter(model.vision_encoder), CallCounter(model.audio_encoder)
    lm = CallCounter(model.language_model)
    model.generate(PROMPTS, video=m["video"], audio=m["audio"], max_new_tokens=6)
    assert lm.calls >= 2  # several decoding steps ran...
    assert (vision.calls, audio.calls) == (1, 1)  # ...on media encoded once
    texts = model.generate(
        PROMPTS, video=m["video"], audio=m["audio"], max_new_tokens=6, media_keys=["s:a", "s:b"]
    )
    cached = model.generate(
        PROMPTS, video=m["video"], audio=m["audio"], max_new_tokens=6, media_keys=["s:a", "s:b"]
    )
    assert (vision.calls, audio.calls) == (
        3,
        3,
    )  # the first keyed call missed (one call per sample), the second hit
    assert cached == texts


@pytest.mark.unit
def test_sharded_encoder_weights_turn_it_off() -> None:
    """FSDP's flat parameters (and ZeRO-3's partitioned ones) are regathered into new storage every step."""
    model = build_avllm("tiny-modular")
    set_trainable(model, "connectors")
    assert cache_blocker(model.vision_encoder) is None
    model.vision_encoder.register_parameter(
        "_flat_param", torch.nn.Parameter(torch.zeros(4), requires_grad=False)
    )
    assert "sharded" in cache_blocker(model.vision_encoder)
    weight = next(model.audio_encoder.parameters())
    weight.ds_id = 7  # what DeepSpeed ZeRO-3 attaches to a partitioned parameter
    assert "sharded" in cache_blocker(model.audio_encoder)
