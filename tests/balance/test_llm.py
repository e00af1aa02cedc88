"""The AV-LLM path on a tiny fake two-branch language model: dropped passes, scores, scaled scope."""

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from crabplus.balance import MLB, FusedOnly, ModalityBalanceCallback, dropped_modality_outputs
from crabplus.balance._llm import sequence_cross_entropy

pytestmark = pytest.mark.unit


class _Out:
    def __init__(self, loss, logits, labels):
        self.loss, self.logits, self.labels = loss, logits, labels


class TinyAVLM(nn.Module):
    """Token embedding + audio/video connectors added to every position; shared LM head."""

    def __init__(self, vocab=7, d=5, feat=3):
        super().__init__()
        self.embed = nn.Embedding(vocab, d)
        self.connectors = nn.ModuleDict({m: nn.Linear(feat, d) for m in ("audio", "video")})
        self.lm_head = nn.Linear(d, vocab)

    def modality_parameters(self):
        return {m: list(c.parameters()) for m, c in self.connectors.items()}

    def forward(self, input_ids, labels, video=None, audio=None):
        h = self.embed(input_ids)  # (B, L, d)
        for m, x in (("audio", audio), ("video", video)):
            if x is not None:
                h = h + self.connectors[m](x)[:, None]  # (B, 1, d)
        logits = self.lm_head(h)  # (B, L, V)
        loss = F.cross_entropy(logits[:, :-1].transpose(1, 2), labels[:, 1:], ignore_index=-100)
        return _Out(loss, logits, labels)


def _run(model, batch):
    def run(keep):
        return model(batch["input_ids"], batch["labels"], **{m: batch[m] for m in keep})
    return run


def test_sequence_cross_entropy_hand_value():
    logits = torch.zeros(1, 3, 4)
    logits[0, 0, 2] = math.log(3.0)  # p(2) = 3/6 at position 0
    labels = torch.tensor([[-100, 2, 1]])  # position 0 predicts 2 (p 1/2), position 1 predicts 1 (p 1/4)
    assert sequence_cross_entropy(logits, labels).item() == pytest.approx((math.log(2) + math.log(4)) / 2)


def test_dropped_passes_multiloss_and_only_connectors_scaled():
    torch.manual_seed(0)
    model = TinyAVLM()
    batch = {"input_ids": torch.randint(0, 7, (4, 6)), "audio": torch.randn(4, 3), "video": torch.randn(4, 3)}
    batch["labels"] = batch["input_ids"].clone()
    batch["labels"][:, :3] = -100  # prompt
    mlb = MLB(alpha=1.0, beta_max=3.0)
    fwd = lambda b: dropped_modality_outputs(_run(model, b), unimodal=mlb.needs_unimodal)  # noqa: E731
    parts = mlb.losses(fwd, batch)
    audio_only = model(batch["input_ids"], batch["labels"], audio=batch["audio"])
    full = model(batch["input_ids"], batch["labels"], audio=batch["audio"], video=batch["video"])
    assert parts["audio"].item() == pytest.approx(audio_only.loss.item())
    assert parts["loss"].item() == pytest.approx(parts["fused"].item() + parts["audio"].item() + parts["video"].item())
    assert parts["fused"].item() == pytest.approx(full.loss.item())
    parts["loss"].backward()
    before = {n: p.grad.clone() for n, p in model.named_parameters()}
    mlb.on_before_optimizer_step(model.modality_parameters())
    s_a = torch.exp(-sequence_cross_entropy(audio_only.logits, audio_only.labels)).mean().item()
    assert mlb.scores["audio"] == pytest.approx(s_a, rel=1e-5)
    k = mlb.coefficients
    assert k["audio"] != pytest.approx(1.0)
    for n, p in model.named_parameters():
        scale = k["audio"] if n.startswith("connectors.audio") else k["video"] if n.startswith("connectors.video") else 1.0
        torch.testing.assert_close(p.grad, before[n] * scale)


def test_fused_only_skips_dropped_passes():
    calls = []

    def run(keep):
        calls.append(keep)
        return _Out(torch.tensor(1.0), torch.zeros(1, 2, 3), torch.tensor([[-100, 0]]))

    strategy = FusedOnly()
    strategy.losses(lambda b: dropped_modality_outputs(run, unimodal=strategy.needs_unimodal), None)
    assert calls == [("audio", "video")]


def test_callback_finds_nested_model_parameters():
    from crabplus.balance import find_modality_parameters

    holder = nn.Module()
    holder.model = TinyAVLM()
    assert set(find_modality_parameters(holder)) == {"audio", "video"}
    with pytest.raises(AttributeError, match="modality_parameters"):
        find_modality_parameters(nn.Linear(1, 1))
    assert ModalityBalanceCallback(log_every_n_steps=0).log_every_n_steps == 1
