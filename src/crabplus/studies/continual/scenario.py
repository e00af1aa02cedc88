"""Continual scenario runner: train on each domain in turn, evaluate retrieval on every domain seen.

For one method, one `AVPretrainModule` lives through the whole stream (its replay buffer with it);
each domain is one `Trainer.fit` of `steps_per_domain` steps. After step l the module is evaluated on
the test clips of every domain t ≤ l: zero-shot audio→video and video→audio R@1/5/10 (gallery = that
domain's test clips). This fills R[l, t]; `continual_summary` gives average accuracy A and forgetting F,
reported per metric and as the mean over R@1/5/10 per direction.

Results are rows (run_id, fingerprint, task, metric, value, higher_is_better, step, time), the schema of
the transfer results store (docs/architecture.md, Results).
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass, field

import lightning as L
import torch
from torch.utils.data import DataLoader, Dataset

from crabplus.studies.continual.config import BackboneConfig, StellaConfig
from crabplus.studies.continual.domains import DomainClips
from crabplus.studies.continual.module import AVPretrainModule
from crabplus.studies.continual.pretrainer import ContinualAVPretrainer
from crabplus.studies.continual.retrieval import KS, continual_summary, retrieval_recall

__all__ = ["ScenarioConfig", "ScenarioResult", "ClipDataset", "evaluate_domain", "run_method", "result_rows"]

METRICS: tuple[str, ...] = tuple(f"{d}_r{k}" for d in ("a2v", "v2a") for k in KS)


@dataclass
class ScenarioConfig:
    """Training schedule of the stream.

    Attributes:
        steps_per_domain: optimizer steps on each domain.
        batch_size: current clips per step (replay adds as many again).
        lr: Adam learning rate.
        seed: seeds data order, model init, selection and buffer.
    """

    steps_per_domain: int = 150
    batch_size: int = 16
    lr: float = 1e-3
    seed: int = 0


@dataclass
class ScenarioResult:
    """R[l, t] per metric (T, T) (NaN for t > l), and A / F per metric and per direction mean."""

    method: str
    matrix: dict[str, torch.Tensor]
    summary: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0


class ClipDataset(Dataset):
    """Dict samples {"video": (T, 3, S, S), "audio": (M, F)} over a domain's media tensors."""

    def __init__(self, media: dict[str, torch.Tensor]) -> None:
        self.media = media

    def __len__(self) -> int:
        return self.media["video"].shape[0]

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {k: v[i] for k, v in self.media.items()}


@torch.no_grad()
def evaluate_domain(
    net: ContinualAVPretrainer, media: dict[str, torch.Tensor], chunk: int = 64
) -> dict[str, float]:
    """Zero-shot retrieval recall (in %) on one domain's test clips."""
    was_training = net.training
    net.eval()
    embs = [
        net.embed(media["video"][i : i + chunk], media["audio"][i : i + chunk])
        for i in range(0, len(media["video"]), chunk)
    ]
    net.train(was_training)
    emb_v = torch.cat([e[0] for e in embs])  # (N, d)
    emb_a = torch.cat([e[1] for e in embs])
    return retrieval_recall(emb_a, emb_v)


def _trainer(steps: int) -> L.Trainer:
    return L.Trainer(
        max_steps=steps,
        max_epochs=-1,
        accelerator="cpu",
        devices=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
    )


def _summarize(matrix: dict[str, torch.Tensor]) -> dict[str, float]:
    out: dict[str, float] = {}
    for name, m in matrix.items():
        out[f"A/{name}"], out[f"F/{name}"] = continual_summary(m)
    for d in ("a2v", "v2a"):
        for s in ("A", "F"):
            out[f"{s}/{d}_mean"] = sum(out[f"{s}/{d}_r{k}"] for k in KS) / len(KS)
    return out


def run_method(
    method: str,
    domains: list[DomainClips],
    backbone: BackboneConfig,
    stella: StellaConfig,
    cfg: ScenarioConfig,
) -> ScenarioResult:
    """Train `method` on the domains in order; evaluate on every seen domain after each."""
    start = time.perf_counter()
    L.seed_everything(cfg.seed, verbose=False)
    module = AVPretrainModule(method, backbone, stella, lr=cfg.lr, seed=cfg.seed)
    n = len(domains)
    matrix = {m: torch.full((n, n), float("nan")) for m in METRICS}
    for step, dom in enumerate(domains):
        g = torch.Generator().manual_seed(cfg.seed * 1000 + step)
        loader = DataLoader(ClipDataset(dom.train), cfg.batch_size, shuffle=True, drop_last=True, generator=g)
        _trainer(cfg.steps_per_domain).fit(module, loader)
        for t in range(step + 1):
            for name, value in evaluate_domain(module.net, domains[t].test).items():
                matrix[name][step, t] = value
    return ScenarioResult(method, matrix, _summarize(matrix), time.perf_counter() - start)


def fingerprint(*configs: object) -> str:
    """Short hash of the configs that determine a run."""
    blob = json.dumps([asdict(c) for c in configs], sort_keys=True, default=str)
    return hashlib.sha1(blob.encode()).hexdigest()[:12]


def result_rows(result: ScenarioResult, domains: list[DomainClips], run_id: str, fp: str) -> list[dict]:
    """Rows for the results store: R[l, t] as task `continual/<domain>` at step l, plus the summary."""
    now = time.time()
    rows = []
    for name, m in result.matrix.items():
        for step in range(m.shape[0]):
            for t in range(step + 1):
                rows.append(
                    dict(
                        run_id=run_id,
                        fingerprint=fp,
                        task=f"continual/{domains[t].name}",
                        metric=name,
                        value=float(m[step, t]),
                        higher_is_better=True,
                        step=step,
                        time=now,
                    )
                )
    last = len(domains) - 1
    for key, value in result.summary.items():
        rows.append(
            dict(
                run_id=run_id,
                fingerprint=fp,
                task="continual/summary",
                metric=key,
                value=value,
                higher_is_better=not key.startswith("F/"),
                step=last,
                time=now,
            )
        )
    return rows
