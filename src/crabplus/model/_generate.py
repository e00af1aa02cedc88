"""Greedy decoding with a KV cache over spliced inputs.

Notation: B batch, L' spliced prompt length, d LM width.

Why our own loop instead of ``GenerationMixin.generate``: prompts are ``inputs_embeds`` with media
spliced in, position ids may be 3-D (M-RoPE) and must continue after the prompt's largest position,
every LM call must publish routing inputs (``crabplus.lora.routing_inputs``), and the mask route needs
the hidden state *at* a generated ``<mask>`` token. Greedy only (do_sample=False semantics).
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass

import torch

from crabplus.lora import routing_inputs

__all__ = ["GenerationResult", "greedy_generate"]


@dataclass
class GenerationResult:
    """texts: decoded outputs; token_ids: (B, n) generated ids (pad after eos); masks: per sample (S, S) for
    one ``<mask>``, (K, S, S) for K > 1 (one map per ``<mask>``, in order: semantic segmentation), or None."""

    texts: list[str]
    token_ids: torch.Tensor
    masks: list[torch.Tensor | None]


def _eos_ids(model) -> set[int]:
    ids = {model.tokenizer.eos_token_id}
    gen = getattr(model.language_model, "generation_config", None)
    extra = getattr(gen, "eos_token_id", None) if gen is not None else None
    ids.update(extra if isinstance(extra, list) else [extra] if extra is not None else [])
    return {i for i in ids if i is not None}


def _next_positions(position_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """First position after the prompt per sample: (B,) from (B, L') or (3, B, L') positions."""
    pos = position_ids if position_ids.dim() == 3 else position_ids[None]  # (A, B, L')
    masked = pos.masked_fill(~attention_mask.bool()[None], -1)
    return masked.amax(dim=(0, 2)) + 1  # (B,)


def _step_positions(start: torch.Tensor, step: int, three_d: bool) -> torch.Tensor:
    p = (start + step)[:, None]  # (B, 1)
    return p[None].expand(3, -1, -1) if three_d else p


def greedy_generate(
    model,
    prompts: list[str],
    video=None,
    audio=None,
    image=None,
    task_ids=None,
    max_new_tokens: int = 64,
    with_masks: bool = False,
    media_keys: list[str] | None = None,
) -> GenerationResult:
    """Greedy decoding; stops when every sample emitted an eos id or after ``max_new_tokens``.

    Media are encoded once, with the prompt; each step feeds one token per row through the KV cache, and a
    row that emitted an eos id gets padding until every row is done. ``media_keys`` let the model's
    feature cache serve frozen encoder outputs.
    """
    enc = model.tokenize(prompts, None, padding_side="left")
    device = next(model.parameters()).device
    enc = {k: v.to(device) for k, v in enc.items()}
    sp, position_ids, encoded = model.prepare_inputs(
        enc["input_ids"], enc["attention_mask"], None, video, audio, image, task_ids, media_keys
    )
    lm, embed = model.language_model, model.language_model.get_input_embeddings()
    cache_kwarg = _cache_argument(lm)
    eos, pad = _eos_ids(model), model.tokenizer.pad_token_id
    B = sp.input_ids.shape[0]
    start = _next_positions(position_ids, sp.attention_mask)
    three_d = position_ids.dim() == 3
    attn = sp.attention_mask
    with routing_inputs(task_ids=task_ids, modality_ids=sp.modality_ids):
        out = lm(
            inputs_embeds=sp.inputs_embeds,
            attention_mask=attn,
            position_ids=position_ids,
            use_cache=True,
            output_hidden_states=with_masks,
        )
    done = torch.zeros(B, dtype=torch.bool, device=device)
    mask_hidden: list[list[torch.Tensor]] = [[] for _ in range(B)]
    generated: list[torch.Tensor] = []
    for step in range(max_new_tokens):
        nxt = out.logits[:, -1].argmax(-1)  # (B,)
        nxt = torch.where(done, torch.full_like(nxt, pad), nxt)
        generated.append(nxt)
        done |= torch.isin(nxt, torch.tensor(sorted(eos), device=device))
        is_mask = nxt == model.mask_token_id
        if done.all() and not (with_masks and bool(is_mask.any())):
            break
        attn = torch.cat([attn, torch.ones_like(attn[:, :1])], dim=1)  # (B, L'+step+1)
        with routing_inputs(task_ids=task_ids, modality_ids=torch.zeros_like(attn[:, :1])):
            out = lm(
                inputs_embeds=embed(nxt[:, None]),
                attention_mask=attn,
                position_ids=_step_positions(start, step, three_d),
                **{cache_kwarg: _cache_of(out)},
                use_cache=True,
                output_hidden_states=with_masks,
            )
        if with_masks:
            for b in is_mask.nonzero().flatten().tolist():
                mask_hidden[b].append(out.hidden_states[-1][b, -1])  # (d,) hidden state at this <mask>
        if done.all():
            break
    ids = torch.stack(generated, 1) if generated else torch.empty(B, 0, dtype=torch.long, device=device)
    texts = [_decode(model, _until_eos(row, eos)) for row in ids.tolist()]
    masks = _masks(model, mask_hidden, encoded) if with_masks else [None] * B
    return GenerationResult(texts, ids, masks)


def _cache_argument(lm) -> str:
    """The name under which this LM takes its KV cache: ``cache`` since transformers 5.x renamed
    ``past_key_values`` (the old name still works there, with a deprecation warning per process)."""
    return "cache" if "cache" in inspect.signature(lm.forward).parameters else "past_key_values"


def _cache_of(output):
    """The KV cache an LM forward returned, under either name (see ``_cache_argument``)."""
    cache = output.get("cache") if "cache" in getattr(output, "__dataclass_fields__", {}) else None
    return cache if cache is not None else output.past_key_values


def _until_eos(row: list[int], eos: set[int]) -> list[int]:
    for i, t in enumerate(row):
        if t in eos:
            return row[:i]
    return row


def _decode(model, row: list[int]) -> str:
    """Text of generated ids without bos/pad/media placeholders but *with* ``<mask>``.

    Why not ``skip_special_tokens=True``: ``<mask>`` is a special token of the tokenizer, yet it is part of
    the answer grammar (the segmentation parser requires it), so dropping it made every mask answer
    unparseable.
    """
    tok = model.tokenizer
    drop = set(tok.all_special_ids) - {model.mask_token_id}
    return tok.decode([t for t in row if t not in drop], skip_special_tokens=False)


def _masks(model, mask_hidden: list[list[torch.Tensor]], encoded: dict) -> list[torch.Tensor | None]:
    """Probability maps of the generated ``<mask>`` tokens: (S, S) for one, (K, S, S) for K; None for none."""
    source = encoded.get("image") or encoded.get("video")
    result: list[torch.Tensor | None] = [None] * len(mask_hidden)
    rows = [b for b, hs in enumerate(mask_hidden) for _ in hs]  # sample of each <mask>
    if model.mask_head is None or source is None or not rows:
        return result
    h = torch.stack([h for hs in mask_hidden for h in hs])  # (M, d)
    feats = model.media.mask_features(source, model.config.mask_source_frame)[rows]  # (M, P, c)
    probs = model.mask_head(h, feats, (model.config.frame_size,) * 2).sigmoid()  # (M, S, S)
    start = 0
    for b, hs in enumerate(mask_hidden):
        if hs:
            result[b] = probs[start] if len(hs) == 1 else probs[start : start + len(hs)]
            start += len(hs)
    return result
