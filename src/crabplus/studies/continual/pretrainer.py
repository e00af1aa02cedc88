"""One continual pre-training step for every method: finetune, ER, STELLA, STELLA without selection.

Plain `nn.Module` (works without Lightning). The methods differ only by `MethodConfig` flags, so there
is one step and no per-method branches beyond those flags:

1. (selection) score the current clips (`scoring.score_clips`), train the AVM with the VAM loss;
2. (replay) draw B_r stored clips; (selection) p from their stored query summaries;
3. (selection) pick K_v video patches and K_a audio patches per clip — current clips with fresh p,
   replayed clips with the p and I stored at insertion (stale, as in the paper); while the buffer is
   empty, deterministic top-K; (no selection) keep every patch;
4. MAE masking inside the kept set, encoder on the visible tokens, joint decoder on the kept tokens;
5. L = MAE_a + MAE_v + w_nce·InfoNCE + w_vam·VAM + α·[MSE(ē^a_stored, ē^a) + MSE(ē^v_stored, ē^v)];
6. after the optimizer step, `remember()` offers the current clips (and their scores) to the buffer.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from crabplus.studies.continual.avm import AVMatching
from crabplus.studies.continual.backbone import AVBackbone
from crabplus.studies.continual.buffer import ReservoirBuffer
from crabplus.studies.continual.config import BackboneConfig, StellaConfig, method_config
from crabplus.studies.continual.objectives import info_nce, mae_loss, split_visible
from crabplus.studies.continual.patches import fit_audio, fit_video
from crabplus.studies.continual.scoring import prune_probabilities, score_clips
from crabplus.studies.continual.selection import select_audio_chunks, select_topk, select_video

__all__ = ["ContinualAVPretrainer"]

Batch = dict[str, torch.Tensor]


class ContinualAVPretrainer(nn.Module):
    """Backbone + AVM + replay buffer, and the shared training step.

    Args:
        backbone: backbone sizes.
        stella: STELLA hyper-parameters (buffer size and replay batch are used by ER too).
        method: a name in `config.METHODS`.
        seed: seeds the selection / masking generator and the buffer's generator.
    """

    def __init__(self, backbone: BackboneConfig, stella: StellaConfig, method: str = "stella", seed: int = 0):
        super().__init__()
        self.cfg, self.stella, self.method_name = backbone, stella, method
        self.method = method_config(method)
        self.backbone = AVBackbone(backbone)
        self.avm = (
            AVMatching(backbone.dim, stella.avm_dim, stella.avm_heads) if self.method.selection else None
        )
        self.k_v = int(backbone.num_video_patches * (1 - stella.video_drop_ratio))
        self.k_a = int(backbone.num_audio_patches * (1 - stella.audio_drop_ratio))
        store = {"video": torch.uint8, "audio": torch.float16}
        self.buffer = ReservoirBuffer(stella.memory_size, store, seed=seed)
        self.generator = torch.Generator().manual_seed(seed + 1)
        self._pending: Batch | None = None

    def embed(self, video: torch.Tensor, audio: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Evaluation embeddings: full clips, no selection, L2-normalized (B, d) video and audio."""
        pv, pa = self.backbone.patches(video, audio)
        ev, ea = self.backbone.pooled(*self.backbone.encode(pv, pa))
        return F.normalize(ev, dim=-1), F.normalize(ea, dim=-1)

    def _all_patches(self, b: int, length: int) -> torch.Tensor:
        return torch.arange(length).expand(b, length)  # (B, L)

    def _select(self, imp_v, imp_a, p_v, p_a) -> tuple[torch.Tensor, torch.Tensor]:
        """Kept indices (B, K_v), (B, K_a) from importance and prune probabilities (step 6)."""
        g = self.generator
        keep_v = select_video(imp_v, p_v, self.k_v, g)
        keep_a = select_audio_chunks(
            imp_a, p_a, self.k_a, self.stella.audio_chunk_width, self.cfg.audio_freq_patches, g
        )
        return keep_v, keep_a

    def _keep_sets(
        self, pv, pa, replay: Batch | None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, Batch]:
        """Steps 1-3 for the current clips (+ replayed clips): kept indices, VAM loss, fields to store."""
        b, lv, la = pv.shape[0], pv.shape[1], pa.shape[1]
        if not self.method.selection:
            n = b + (0 if replay is None else replay["video"].shape[0])
            return self._all_patches(n, lv), self._all_patches(n, la), pv.new_zeros(()), {}
        s = score_clips(self.backbone, self.avm, pv, pa, self.k_v, self.k_a, self.stella.att_temperature)
        if replay is None:  # first step of the stream: deterministic top-K, p = 0 stored
            keep_v, keep_a = select_topk(s.imp_v, self.k_v), select_topk(s.imp_a, self.k_a)
            p_v, p_a = torch.zeros_like(s.imp_v), torch.zeros_like(s.imp_a)
        else:
            p_v, p_a = prune_probabilities(s, replay["query_v"], replay["query_a"])
            keep_v, keep_a = self._select(s.imp_v, s.imp_a, p_v, p_a)
            old_v, old_a = self._select(replay["imp_v"], replay["imp_a"], replay["p_v"], replay["p_a"])
            keep_v, keep_a = torch.cat([keep_v, old_v]), torch.cat([keep_a, old_a])
        store = {"query_v": s.query_v, "query_a": s.query_a, "p_v": p_v, "p_a": p_a}
        store |= {"imp_v": s.imp_v, "imp_a": s.imp_a}
        return keep_v, keep_a, s.vam_loss, store

    def _replay(self, b: int) -> Batch | None:
        if not self.method.replay or len(self.buffer) == 0:
            return None
        return self.buffer.sample(self.stella.replay_batch or b)

    def training_loss(
        self, video: torch.Tensor, audio: torch.Tensor
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """Total loss for one batch of current clips (B, T, 3, S, S), (B, n_mels, F), and log values."""
        pv, pa = self.backbone.patches(video, audio)  # (B, L_V, 3P²), (B, L_A, P²)
        b = pv.shape[0]
        replay = self._replay(b)
        keep_v, keep_a, vam, store = self._keep_sets(pv, pa, replay)
        if replay is not None:
            pv_r, pa_r = self.backbone.patches(replay["video"], replay["audio"])
            pv, pa = torch.cat([pv, pv_r]), torch.cat([pa, pa_r])  # (B + R, ·, ·)
        ratio, g = self.cfg.mask_ratio, self.generator
        vis_v, tgt_v = split_visible(keep_v, self.cfg.num_video_patches, ratio, g)
        vis_a, tgt_a = split_visible(keep_a, self.cfg.num_audio_patches, ratio, g)
        hv, ha = self.backbone.encode(pv, pa, vis_v, vis_a)  # (B + R, n_v, d), (B + R, n_a, d)
        pred_v, pred_a = self.backbone.decode(hv, ha, (vis_v, vis_a), (tgt_v, tgt_a))
        mae_v, mae_a = mae_loss(pred_v, pv, tgt_v), mae_loss(pred_a, pa, tgt_a)
        emb_v, emb_a = self.backbone.pooled(hv, ha)  # (B + R, d)
        nce = info_nce(emb_a, emb_v, self.cfg.contrastive_temperature)
        distill = pv.new_zeros(())
        if replay is not None and self.method.distill:
            distill = F.mse_loss(emb_a[b:], replay["emb_a"]) + F.mse_loss(emb_v[b:], replay["emb_v"])
        st = self.stella
        loss = mae_a + mae_v + st.contrastive_weight * nce + st.vam_weight * vam + st.distill_weight * distill
        self._pending = self._memory_fields(video, audio, emb_v[:b], emb_a[:b], store)
        logs = {"loss": loss, "mae_v": mae_v, "mae_a": mae_a, "nce": nce, "vam": vam, "distill": distill}
        return loss, {k: float(v.detach()) for k, v in logs.items()}

    def _memory_fields(self, video, audio, emb_v, emb_a, store: Batch) -> Batch:
        """What this method stores per clip, at the configured input sizes."""
        if not self.method.replay:
            return {}
        fields = {"video": fit_video(video.detach(), self.cfg), "audio": fit_audio(audio.detach(), self.cfg)}
        if self.method.distill:
            fields |= {"emb_v": emb_v.detach(), "emb_a": emb_a.detach()}
        return fields | store

    def remember(self) -> None:
        """Offer the last step's current clips to the reservoir buffer (call after the optimizer step)."""
        if self._pending:
            self.buffer.add(self._pending)
        self._pending = None
