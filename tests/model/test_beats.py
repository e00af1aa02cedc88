"""BEATs, Crab's audio tower: the official checkpoint layout loads, the forward equals a naive re-derivation
from the paper's equations, buckets by hand, and crab-llama2 uses it by default (Crab's 1-s fbank windows).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from crabplus.data.features import beats_fbank
from crabplus.model import build_avllm, load_avllm
from crabplus.model._beats import BEATs, BEATsConfig, load_beats, relative_position_buckets

# a tiny BEATs in the release's cfg format, with the training-only keys the real cfg also carries
TINY_CFG = {
    "input_patch_size": 16, "embed_dim": 12, "conv_bias": False, "encoder_layers": 2, "encoder_embed_dim": 16,
    "encoder_ffn_embed_dim": 24, "encoder_attention_heads": 2, "activation_fn": "gelu", "layer_norm_first": False,
    "deep_norm": True, "conv_pos": 8, "conv_pos_groups": 2, "relative_position_embedding": True,
    "num_buckets": 16, "max_distance": 40, "gru_rel_pos": True, "finetuned_model": True, "predictor_class": 5,
    "dropout": 0.0, "attention_dropout": 0.0, "activation_dropout": 0.0, "encoder_layerdrop": 0.05,
    "dropout_input": 0.0, "layer_wise_gradient_decay_ratio": 0.6, "predictor_dropout": 0.0,
}  # fmt: skip


def official_state_dict(cfg: dict, seed: int = 0) -> dict[str, torch.Tensor]:
    """Random tensors under the release's key names and shapes (written from its layout, not our module)."""
    g = torch.Generator().manual_seed(seed)
    D, E, F_, H = (
        cfg["encoder_embed_dim"],
        cfg["embed_dim"],
        cfg["encoder_ffn_embed_dim"],
        cfg["encoder_attention_heads"],
    )
    p, K, groups = cfg["input_patch_size"], cfg["conv_pos"], cfg["conv_pos_groups"]

    def r(*shape, scale=0.3):
        return torch.randn(*shape, generator=g) * scale

    sd = {
        "patch_embedding.weight": r(E, 1, p, p, scale=0.05),
        "layer_norm.weight": 1 + r(E, scale=0.1), "layer_norm.bias": r(E, scale=0.1),
        "post_extract_proj.weight": r(D, E), "post_extract_proj.bias": r(D, scale=0.1),
        "encoder.pos_conv.0.weight_g": 1 + r(1, 1, K, scale=0.1),
        "encoder.pos_conv.0.weight_v": r(D, D // groups, K),
        "encoder.pos_conv.0.bias": r(D, scale=0.1),
        "encoder.layer_norm.weight": 1 + r(D, scale=0.1), "encoder.layer_norm.bias": r(D, scale=0.1),
        "predictor.weight": r(cfg["predictor_class"], D), "predictor.bias": r(cfg["predictor_class"]),
    }  # fmt: skip
    table = r(cfg["num_buckets"], H)  # one table, saved under every layer's name
    for i in range(cfg["encoder_layers"]):
        a = f"encoder.layers.{i}."
        for proj in ("q_proj", "k_proj", "v_proj", "out_proj"):
            sd[a + f"self_attn.{proj}.weight"], sd[a + f"self_attn.{proj}.bias"] = r(D, D), r(D, scale=0.1)
        sd[a + "self_attn.relative_attention_bias.weight"] = table.clone()
        sd[a + "self_attn.grep_linear.weight"], sd[a + "self_attn.grep_linear.bias"] = r(8, D // H), r(8)
        sd[a + "self_attn.grep_a"] = 1 + r(1, H, 1, 1, scale=0.2)
        for norm in ("self_attn_layer_norm", "final_layer_norm"):
            sd[a + f"{norm}.weight"], sd[a + f"{norm}.bias"] = 1 + r(D, scale=0.1), r(D, scale=0.1)
        sd[a + "fc1.weight"], sd[a + "fc1.bias"] = r(F_, D), r(F_, scale=0.1)
        sd[a + "fc2.weight"], sd[a + "fc2.bias"] = r(D, F_), r(D, scale=0.1)
    return sd


@pytest.fixture()
def tiny_pt(tmp_path):
    path = tmp_path / "BEATs_tiny.pt"
    torch.save({"cfg": TINY_CFG, "model": official_state_dict(TINY_CFG)}, path)
    return path


@pytest.mark.unit
def test_relative_buckets_by_hand() -> None:
    rel = torch.tensor([0, -5, 5, -79, -80, 79, -800, 200, -5000])
    # 160 buckets per sign; exact below 80; then 80 + floor(log(d / 80) / log(800 / 80) * 80), capped at 159
    expected = [
        0,
        5,
        165,
        79,
        80,
        160 + 79,
        159,
        160 + 80 + math.floor(math.log(2.5) / math.log(10) * 80),
        159,
    ]
    assert relative_position_buckets(rel, 320, 800).tolist() == expected


@pytest.mark.unit
def test_official_checkpoint_loads_every_key(tiny_pt) -> None:
    saved = torch.load(tiny_pt)["model"]
    model = load_beats(tiny_pt)
    ours = model.state_dict()
    assert set(ours) == set(saved)
    for key, value in saved.items():
        assert torch.equal(ours[key], value), key
    n_unique = sum(p.numel() for p in model.parameters())  # the shared table counted once
    assert n_unique == sum(v.numel() for v in saved.values()) - (TINY_CFG["encoder_layers"] - 1) * 16 * 2


@pytest.mark.unit
def test_checkpoint_variants_load_the_same(tmp_path, tiny_pt) -> None:
    """Only layer 0's copy of the shared table, or weight norm saved as torch's parametrisation: same model."""
    reference = load_beats(tiny_pt).state_dict()
    sd = official_state_dict(TINY_CFG)
    for i in range(1, TINY_CFG["encoder_layers"]):
        del sd[f"encoder.layers.{i}.self_attn.relative_attention_bias.weight"]
    for name, new in (("weight_g", "original0"), ("weight_v", "original1")):
        sd[f"encoder.pos_conv.0.parametrizations.weight.{new}"] = sd.pop(f"encoder.pos_conv.0.{name}")
    torch.save({"cfg": TINY_CFG, "model": sd}, tmp_path / "variant.pt")
    again = load_beats(tmp_path / "variant.pt").state_dict()
    assert all(torch.equal(again[k], v) for k, v in reference.items())


@pytest.mark.unit
def test_checkpoint_errors_name_the_file(tmp_path) -> None:
    sd = official_state_dict(TINY_CFG)
    del sd["encoder.layer_norm.bias"]
    torch.save({"cfg": TINY_CFG, "model": sd}, tmp_path / "bad.pt")
    with pytest.raises(ValueError, match=r"bad\.pt: BEATs keys missing \['encoder\.layer_norm\.bias'\]"):
        load_beats(tmp_path / "bad.pt")
    torch.save({"cfg": {**TINY_CFG, "use_fancy": True}, "model": sd}, tmp_path / "odd.pt")
    with pytest.raises(ValueError, match=r"odd\.pt: BEATs cfg keys \['use_fancy'\]"):
        load_beats(tmp_path / "odd.pt")


def _naive_beats(sd: dict, cfg: dict, fbank: torch.Tensor) -> torch.Tensor:
    """The paper's BEATs forward, one sample (T, M), token by token and head by head, in float64."""
    sd = {k: v.double() for k, v in sd.items()}
    x_in = fbank.double()
    p, D, H = cfg["input_patch_size"], cfg["encoder_embed_dim"], cfg["encoder_attention_heads"]
    h = D // H

    def ln(x, name):
        mu, var = x.mean(-1, keepdim=True), x.var(-1, unbiased=False, keepdim=True)
        return (x - mu) / torch.sqrt(var + 1e-5) * sd[name + ".weight"] + sd[name + ".bias"]

    def lin(x, name):
        return x @ sd[name + ".weight"].T + sd[name + ".bias"]

    gelu = lambda v: 0.5 * v * (1 + torch.erf(v / math.sqrt(2)))  # noqa: E731
    tokens = []  # patches in time-major order, mel patches fastest
    for t in range(x_in.shape[0] // p):
        for f in range(x_in.shape[1] // p):
            patch = x_in[t * p : (t + 1) * p, f * p : (f + 1) * p]
            tokens.append((sd["patch_embedding.weight"][:, 0] * patch).sum((1, 2)))
    x = lin(ln(torch.stack(tokens), "layer_norm"), "post_extract_proj")  # (N, D)
    N, K, G = x.shape[0], cfg["conv_pos"], cfg["conv_pos_groups"]
    v = sd["encoder.pos_conv.0.weight_v"]
    w = sd["encoder.pos_conv.0.weight_g"] * v / torch.sqrt((v**2).sum((0, 1), keepdim=True))
    padded = torch.cat([torch.zeros(K // 2, D, dtype=x.dtype), x, torch.zeros(K // 2, D, dtype=x.dtype)])
    per = D // G
    conv = torch.zeros(
        N, D, dtype=x.dtype
    )  # output n sees inputs n - K/2 ... n + K/2 - 1 (last frame trimmed)
    for n in range(N):
        for o in range(D):
            grp = o // per
            conv[n, o] = sum(w[o, :, k] @ padded[n + k, grp * per : (grp + 1) * per] for k in range(K))
    x = ln(x + gelu(conv + sd["encoder.pos_conv.0.bias"]), "encoder.layer_norm")

    def bucket(rel: int) -> int:
        half = cfg["num_buckets"] // 2
        exact, d = half // 2, abs(rel)
        base = half if rel > 0 else 0
        if d < exact:
            return base + d
        return base + min(
            exact + int(math.log(d / exact) / math.log(cfg["max_distance"] / exact) * (half - exact)),
            half - 1,
        )

    alpha = (2 * cfg["encoder_layers"]) ** 0.25
    for i in range(cfg["encoder_layers"]):
        a = f"encoder.layers.{i}.self_attn"
        q, k, vv = lin(x, a + ".q_proj"), lin(x, a + ".k_proj"), lin(x, a + ".v_proj")
        table = sd[a + ".relative_attention_bias.weight"]
        out = torch.zeros(N, D, dtype=x.dtype)
        for head in range(H):
            cols = slice(head * h, (head + 1) * h)
            for qi in range(N):
                z = lin(
                    q[qi, cols], a + ".grep_linear"
                )  # 8 values: gate a = σ(sum of first 4), b = σ(last 4)
                ga, gb = torch.sigmoid(z[:4].sum()), torch.sigmoid(z[4:].sum())
                gate = ga * (gb * sd[a + ".grep_a"][0, head, 0, 0] - 1) + 2
                logits = torch.stack(
                    [
                        q[qi, cols] @ k[kj, cols] / math.sqrt(h) + gate * table[bucket(kj - qi), head]
                        for kj in range(N)
                    ]
                )
                out[qi, cols] = torch.softmax(logits, 0) @ vv[:, cols]
        x = ln(x * alpha + lin(out, a + ".out_proj"), f"encoder.layers.{i}.self_attn_layer_norm")
        ffn = lin(gelu(lin(x, f"encoder.layers.{i}.fc1")), f"encoder.layers.{i}.fc2")
        x = ln(x * alpha + ffn, f"encoder.layers.{i}.final_layer_norm")
    return x


@pytest.mark.unit
def test_forward_equals_naive_paper_forward(tiny_pt) -> None:
    model = load_beats(tiny_pt).eval()
    fbank = torch.randn(
        2, 50, 128, generator=torch.Generator().manual_seed(5)
    )  # 3 x 8 patches, 2 frames dropped
    with torch.no_grad():
        out = model(input_features=fbank).last_hidden_state
    assert out.shape == (2, 24, 16) and model.tokens_per_input(50) == 24
    sd = torch.load(tiny_pt)["model"]
    for b in range(2):
        torch.testing.assert_close(
            out[b].double(), _naive_beats(sd, TINY_CFG, fbank[b]), atol=2e-5, rtol=1e-4
        )


@pytest.fixture()
def tiny_crab(tmp_path, tiny_pt, crab_llama2_from_parts):
    """crab-llama2 on a tiny LM and CLIP and the official single-file BEATs checkpoint."""
    ref = build_avllm("tiny-modular", connector="qformer")
    return crab_llama2_from_parts(ref, tmp_path, audio_path=tiny_pt, match_ref_shapes=True).eval()


@pytest.mark.integration
def test_crab_llama2_defaults_to_beats_on_crabs_one_second_windows(tmp_path, tiny_crab) -> None:
    model = tiny_crab
    assert isinstance(model.audio_encoder, BEATs)
    assert model.config.audio_features == "fbank" and model.media_spec["audio_features"] == "fbank"
    wave = torch.from_numpy(np.random.default_rng(2).uniform(-0.5, 0.5, 4 * 16000).astype(np.float32))
    clip_fbank = beats_fbank(wave).T[None]  # (1, 128, 398): the data side's whole-clip fbank
    seen = []
    hook = model.audio_encoder.register_forward_pre_hook(
        lambda m, a, kw: seen.append(kw["input_features"]), with_kwargs=True
    )
    enc = model.tokenize(["Hear <audio> it"], ["<answer>a</answer>"])
    with torch.no_grad():
        out = model(**enc, audio=clip_fbank)
    hook.remove()
    # Crab computes each 1-s segment's fbank on its own: 98 frames of the segment's samples
    per_segment = torch.stack([beats_fbank(wave[j * 16000 : (j + 1) * 16000]) for j in range(4)])
    assert seen[0].shape == per_segment.shape == (4, 98, 128)
    torch.testing.assert_close(seen[0], per_segment, atol=1e-4, rtol=1e-5)
    assert model.media.audio_encoder_tokens(model.audio_encoder) == 4 * 6 * 8  # 6 x 8 patches per second
    assert torch.isfinite(out.logits).all()

    model.save_pretrained(tmp_path / "saved")
    again = load_avllm(tmp_path / "saved").eval()
    with torch.no_grad():
        torch.testing.assert_close(again(**enc, audio=clip_fbank).logits, out.logits)


@pytest.mark.integration
def test_meta_build_counts_the_real_beats() -> None:
    """init: meta builds the shipped BEATs (iter3+ AS2M) shape; parameters counted from its config by hand."""
    model = build_avllm("crab-llama2", init="meta")
    enc = model.audio_encoder
    assert isinstance(enc, BEATs) and enc.config == BEATsConfig()
    D, E, L, F_ = 768, 512, 12, 3072
    per_layer = 4 * (D * D + D) + (64 * 8 + 8) + 12 + 2 * 2 * D + (D * F_ + F_) + (F_ * D + D)
    expected = (
        E * 16 * 16 + 2 * E + (E * D + D)  # patches (no bias), LayerNorm, projection
        + (128 + D * (D // 16) * 128 + D)  # weight-normalised position conv: g, v, bias
        + L * per_layer + 320 * 12 + 2 * D  # layers, the shared bucket table, encoder LayerNorm
        + (D * 527 + 527)  # AudioSet classifier of the fine-tuned release
    )  # fmt: skip
    assert sum(p.numel() for p in enc.parameters()) == expected == 90_717_055  # the paper: "90M parameters"
    assert model.media.audio_encoder_tokens(enc) == 10 * 48  # ten 1-s windows of 6 x 8 patches
