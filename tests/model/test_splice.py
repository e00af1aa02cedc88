"""Placeholder splicing against a naive per-sample reference (embed text, insert features by hand)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from crabplus.model import MODALITY_IDS, splice

PIDS = {"video": 90, "audio": 91, "image": 92}
PAD = 0


def reference(ids, mask, labels, feats, embed: nn.Embedding, side: str, pids=PIDS, pad: int = PAD):
    """Literal construction: walk each sample's real tokens, emit an embedding or the sample's features."""
    rows = []
    for b in range(ids.shape[0]):
        emb, lab, mod = [], [], []
        for j in range(ids.shape[1]):
            if not mask[b, j]:
                continue
            tok = int(ids[b, j])
            modality = next((m for m, p in pids.items() if p == tok and m in feats), None)
            if modality is None:
                emb.append(embed.weight[tok])
                lab.append(int(labels[b, j]))
                mod.append(0)
            else:
                emb.extend(feats[modality][b])
                lab.extend([-100] * feats[modality].shape[1])
                mod.extend([MODALITY_IDS[modality]] * feats[modality].shape[1])
        rows.append((emb, lab, mod))
    L = max(len(r[0]) for r in rows)
    out_e = embed.weight[pad].expand(len(rows), L, -1).clone()
    out_l = torch.full((len(rows), L), -100)
    out_m = torch.zeros((len(rows), L), dtype=torch.long)
    out_a = torch.zeros((len(rows), L), dtype=torch.long)
    for b, (emb, lab, mod) in enumerate(rows):
        n = len(emb)
        sl = slice(L - n, L) if side == "left" else slice(0, n)
        out_e[b, sl] = torch.stack(emb)
        out_l[b, sl] = torch.tensor(lab)
        out_m[b, sl] = torch.tensor(mod)
        out_a[b, sl] = 1
    return out_e, out_a, out_l, out_m


def batch(side: str):
    """Three samples: video+audio, audio only, video only (with a text-only tail); ragged lengths."""
    seqs = [[5, 90, 6, 7, 91, 8, 9], [91, 10, 11], [12, 13, 90, 14]]
    labs = [[-100, -100, -100, -100, -100, 8, 9], [-100, 10, 11], [-100, -100, -100, 14]]
    L = max(map(len, seqs))
    ids = torch.full((3, L), PAD)
    mask = torch.zeros((3, L), dtype=torch.long)
    labels = torch.full((3, L), -100)
    for b, (s, lab) in enumerate(zip(seqs, labs)):
        sl = slice(L - len(s), L) if side == "left" else slice(0, len(s))
        ids[b, sl], labels[b, sl], mask[b, sl] = torch.tensor(s), torch.tensor(lab), 1
    return ids, mask, labels


@pytest.mark.unit
@pytest.mark.parametrize("side", ["left", "right"])
def test_splice_matches_per_sample_reference(side: str) -> None:
    embed = nn.Embedding(100, 8)
    feats = {"video": torch.randn(3, 5, 8), "audio": torch.randn(3, 3, 8)}
    ids, mask, labels = batch(side)
    sp = splice(ids, mask, labels, feats, PIDS, embed, PAD)
    e, a, lab, mod = reference(ids, mask, labels, feats, embed, side)
    assert sp.inputs_embeds.shape == (3, 13, 8)  # 7 - 2 placeholders + 5 + 3
    torch.testing.assert_close(sp.inputs_embeds, e)
    assert torch.equal(sp.attention_mask, a)
    assert torch.equal(sp.labels, lab)
    assert torch.equal(sp.modality_ids, mod)


@pytest.mark.unit
def test_splice_positions_by_hand() -> None:
    """Right padding, one sample: [5, <video>, 6] with 2 video tokens -> [5, v, v, 6]."""
    embed = nn.Embedding(100, 4)
    ids, mask = torch.tensor([[5, 90, 6]]), torch.ones(1, 3, dtype=torch.long)
    feats = {"video": torch.arange(8.0).view(1, 2, 4)}
    sp = splice(ids, mask, ids.clone(), feats, PIDS, embed, PAD)
    assert sp.input_ids.tolist() == [[5, 90, 90, 6]]
    assert sp.labels.tolist() == [[5, -100, -100, 6]]
    assert sp.modality_ids.tolist() == [[0, 1, 1, 0]]
    torch.testing.assert_close(sp.inputs_embeds[0, 1:3], feats["video"][0])


@pytest.mark.unit
def test_splice_errors_name_the_samples() -> None:
    embed = nn.Embedding(100, 4)
    ids, mask = torch.tensor([[5, 91], [5, 6]]), torch.ones(2, 2, dtype=torch.long)
    with pytest.raises(ValueError, match=r"samples \[0\] have a audio placeholder"):
        splice(ids, mask, None, {}, PIDS, embed, PAD)
    twice = torch.tensor([[90, 90]])
    with pytest.raises(ValueError, match="more than one video"):
        splice(
            twice, torch.ones(1, 2, dtype=torch.long), None, {"video": torch.randn(1, 2, 4)}, PIDS, embed, PAD
        )


@pytest.mark.integration
@pytest.mark.parametrize("preset", ["tiny_modular", "tiny_omni"])
@pytest.mark.parametrize("side", ["left", "right"])
def test_model_splicing_mixed_batch(preset: str, side: str, request, media) -> None:
    """audio-only and video-only prompts in one batch with both tensors given; compare with the reference."""
    model = request.getfixturevalue(preset)
    enc = model.tokenize(
        ["Hear <audio> this.", "See <video> that, long prompt here", "text only"],
        ["yes", "no", "maybe"],
        padding_side=side,
    )
    m = media(3)
    with torch.no_grad():
        sp, _, _ = model.prepare_inputs(
            enc["input_ids"], enc["attention_mask"], enc["labels"], video=m["video"], audio=m["audio"]
        )
        feats, _ = model.encode_media(video=m["video"], audio=m["audio"])
        e, a, lab, mod = reference(
            enc["input_ids"],
            enc["attention_mask"],
            enc["labels"],
            feats,
            model.language_model.get_input_embeddings(),
            side,
            model.placeholder_ids,
            model.tokenizer.pad_token_id,
        )
    counts = model.media_token_counts
    assert (sp.modality_ids == 2).sum(1).tolist() == [counts["audio"], 0, 0]
    assert (sp.modality_ids == 1).sum(1).tolist() == [0, counts["video"], 0]
    torch.testing.assert_close(sp.inputs_embeds, e)
    assert torch.equal(sp.attention_mask, a)
    assert torch.equal(sp.labels, lab)
    assert torch.equal(sp.modality_ids, mod)


@pytest.mark.integration
@pytest.mark.parametrize("preset", ["tiny_modular", "tiny_omni"])
def test_left_and_right_padding_give_same_logits(preset: str, request, media) -> None:
    """The same samples padded on either side give the same logits on their real tokens."""
    prompts, answers = ["<video> short", "<video> a much longer prompt <audio> here"], ["a", "b c"]
    m = media(2)
    model = request.getfixturevalue(preset)
    outs = {}
    with torch.no_grad():
        for side in ("left", "right"):
            enc = model.tokenize(prompts, answers, padding_side=side)
            outs[side] = model(**enc, video=m["video"], audio=m["audio"])
    for b in range(2):
        real = {s: o.logits[b][o.attention_mask[b].bool()] for s, o in outs.items()}
        torch.testing.assert_close(real["left"], real["right"], atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(outs["left"].loss, outs["right"].loss, atol=1e-5, rtol=1e-5)
