"""Balancing strategies behind one interface: fused-only, fixed multi-loss, MLB and OGM-GE.

A training step with any strategy (the caller is a LightningModule's ``training_step``)::

    parts = strategy.losses(forward_fn, batch, step)   # forward_fn(batch) -> ForwardOutputs
    return parts["loss"]                               # backward as usual
    # ... then, in on_before_optimizer_step (`ModalityBalanceCallback` does this):
    strategy.on_before_optimizer_step(model.modality_parameters(), optimizer, step)

Where k is applied (``route``):

- ``"grad"`` (default): k_i multiplies ``p.grad`` of modality i's parameters before the optimizer step.
  k is formed from the (sum, count) scores accumulated over all micro-batches since the last step and
  all-reduced, so it is the same on every rank and correct under gradient accumulation.
- ``"lr"``: k_i scales the learning rate of param groups tagged ``modality=i`` (for Adam(W), which is
  invariant to constant gradient scales).
- ``"graph"``: k is formed per micro-batch inside `losses` and read by `grad_scale` nodes that the model
  placed on its modality branches with ``strategy.handles[i]``; nothing is done to ``.grad``.

The strategies hold no state across steps beyond the last logged values (the rules are memoryless).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, Literal

import torch
from torch import Tensor, nn

from crabplus.balance._branches import ForwardOutputs, global_scores, score_stats
from crabplus.balance._coefficients import PhaseOut, mlb_coefficients, ogm_coefficients, others_over_self
from crabplus.balance._grad import ScaleHandle, add_ge_noise, scale_gradients, scale_learning_rates

__all__ = ["MLB", "OGMGE", "BalanceStrategy", "FusedOnly", "MultiLoss", "scoped_parameters"]

Route = Literal["grad", "lr", "graph"]
Scope = Literal["conv", "modality"]
ForwardFn = Callable[[Any], ForwardOutputs]


class BalanceStrategy:
    """Multi-loss objective plus per-modality coefficients; the base class is plain multi-loss with k = 1.

    Args:
        modalities: modality names, in the order used for coefficients and logs.
        fused_weight: weight of the fused loss.
        unimodal_weight: weight of each unimodal loss (MLB's ``multi_supervised_w``, default 1/1/1).
        route: where k is applied, see the module docstring.
        phase_out: outer window / ramp of the balancing strength; None = always on.
    """

    uses_coefficients = False

    def __init__(
        self,
        modalities: tuple[str, ...] = ("audio", "video"),
        fused_weight: float = 1.0,
        unimodal_weight: float = 1.0,
        route: Route = "grad",
        phase_out: PhaseOut | None = None,
    ) -> None:
        if route not in ("grad", "lr", "graph"):
            raise ValueError(f"route must be 'grad', 'lr' or 'graph', got {route!r}")
        self.modalities = tuple(modalities)
        self.fused_weight = float(fused_weight)
        self.unimodal_weight = float(unimodal_weight)
        self.route = route
        self.phase_out = phase_out or PhaseOut()
        self.handles = {m: ScaleHandle() for m in self.modalities}
        self.coefficients = {m: 1.0 for m in self.modalities}
        self.scores: dict[str, float] = {}
        self.active = False  # whether the last update was inside the phase-out window
        self._pending: Tensor | None = None  # (M, 2) score stats since the last optimizer step

    @property
    def needs_unimodal(self) -> bool:
        """Whether the forward must produce unimodal branches (the AV-LLM skips dropped passes if not)."""
        return self.unimodal_weight != 0.0 or self.uses_coefficients

    def losses(self, forward_fn: ForwardFn, batch: Any, step: int = 0) -> dict[str, Tensor]:
        """Run ``forward_fn(batch)`` and combine its branches; see `combine`."""
        return self.combine(forward_fn(batch), step)

    def combine(self, out: ForwardOutputs, step: int = 0) -> dict[str, Tensor]:
        """Total loss = w_f * L_fused + w_u * sum_i L_i, and record the scores for k.

        Returns:
            ``{"loss": total, "fused": L_fused, <modality>: L_i, ...}`` (scalars; only ``loss`` is meant
            for backward, the rest for logging).
        """
        parts: dict[str, Tensor] = {"fused": out.fused.loss}
        total = self.fused_weight * out.fused.loss
        for m in self.modalities:
            if m in out.unimodal:
                parts[m] = out.unimodal[m].loss
                if self.unimodal_weight != 0.0:
                    total = total + self.unimodal_weight * out.unimodal[m].loss
        if self.uses_coefficients:
            stats = score_stats(self._score_branches(out), self.modalities)  # (M, 2)
            if self.route == "graph":
                self._update(stats, step)
            else:
                self._pending = stats if self._pending is None else self._pending + stats
        parts["loss"] = total
        return parts

    def on_before_optimizer_step(
        self,
        params_by_modality: Mapping[str, Iterable[nn.Parameter]],
        optimizer: torch.optim.Optimizer | None = None,
        step: int = 0,
    ) -> None:
        """Form k from the accumulated scores and apply it (routes "grad" and "lr"); a collective."""
        if not self.uses_coefficients or self.route == "graph" or self._pending is None:
            return
        self._update(self._pending, step)
        self._pending = None
        if self.route == "lr":
            if optimizer is None:
                raise ValueError("route='lr' needs the optimizer in on_before_optimizer_step")
            scale_learning_rates(optimizer, self.coefficients)
        else:
            self._apply_to_grads(params_by_modality)

    def log_dict(self) -> dict[str, float]:
        """``balance/coef/<m>``, ``balance/score/<m>`` and ``balance/ratio/<m>`` of the last update."""
        logs = {f"balance/coef/{m}": k for m, k in self.coefficients.items()}
        if self.scores:
            s = torch.tensor([self.scores[m] for m in self.modalities], dtype=torch.float64)
            for m, r in zip(self.modalities, others_over_self(s).tolist()):
                logs[f"balance/score/{m}"] = self.scores[m]
                logs[f"balance/ratio/{m}"] = r
        return logs

    # -- hooks for subclasses -------------------------------------------------------------------------
    def rule(self, scores: Tensor) -> Tensor:
        """k from the global scores (M,) -> (M,); the base class never balances."""
        return torch.ones_like(scores)

    def _score_branches(self, out: ForwardOutputs) -> dict:
        return out.unimodal

    def _apply_to_grads(self, params_by_modality: Mapping[str, Iterable[nn.Parameter]]) -> None:
        scale_gradients(params_by_modality, self.coefficients)

    def _update(self, stats: Tensor, step: int) -> None:
        scores = global_scores(stats)  # (M,), all-reduced
        k = self.phase_out.apply(self.rule(scores).double(), step)  # (M,)
        self.active = self.phase_out.strength(step) > 0.0
        self.scores = dict(zip(self.modalities, scores.tolist()))
        self.coefficients = dict(zip(self.modalities, k.tolist()))
        for m in self.modalities:
            self.handles[m].value = self.coefficients[m]


class MultiLoss(BalanceStrategy):
    """Plain multi-loss: fixed weights on the fused and unimodal losses, no modulation (k = 1)."""


class FusedOnly(BalanceStrategy):
    """The unbalanced baseline: only the fused loss (joint training)."""

    def __init__(self, modalities: tuple[str, ...] = ("audio", "video")) -> None:
        super().__init__(modalities=modalities, fused_weight=1.0, unimodal_weight=0.0)


class MLB(BalanceStrategy):
    """Multi-loss balanced gradient modulation (Kontras et al., BMVC 2024).

    k_i = 1 + (beta_i - 1) tanh(alpha (r_i - 1)) from the unimodal scores, applied to every gradient of
    modality i's parameters (encoder, unimodal head, its fusion slice).

    Args:
        alpha: tanh steepness (paper: 0.5 to 5, tuned per dataset).
        beta_max: acceleration cap; 2 is the original rule, 1 disables acceleration.
        **kwargs: see `BalanceStrategy`.
    """

    uses_coefficients = True

    def __init__(
        self,
        alpha: float = 1.0,
        beta_max: float = 2.0,
        modalities: tuple[str, ...] = ("audio", "video"),
        fused_weight: float = 1.0,
        unimodal_weight: float = 1.0,
        route: Route = "grad",
        phase_out: PhaseOut | None = None,
    ) -> None:
        super().__init__(modalities, fused_weight, unimodal_weight, route, phase_out)
        self.alpha = float(alpha)
        self.beta_max = float(beta_max)

    def rule(self, scores: Tensor) -> Tensor:
        return mlb_coefficients(scores, self.alpha, self.beta_max)


class OGMGE(BalanceStrategy):
    """On-the-fly gradient modulation with generalisation enhancement (Peng et al., CVPR 2022).

    Fused loss only. The scores come from the fused layer's per-modality halves (``ForwardOutputs.slices``;
    falls back to the unimodal branches when the fusion does not decompose). The dominant modality's
    gradients are damped by 1 - tanh(alpha * rho); with ``ge`` Gaussian noise of the gradient's std is
    added, drawn from a generator seeded with ``seed`` (identical on every rank).

    ``scope`` says which gradients are touched, for the modulation and the noise alike:

    - ``conv`` (default, the paper's released code): only the 4-D convolution kernels among a modality's
      parameters, i.e. its encoder's convs; BatchNorm, biases, linear heads and fusion slices keep their
      plain gradients.
    - ``modality``: every parameter the model lists for the modality (``modality_parameters()``), noise on
      every tensor with more than one element. For encoders without convolutions, e.g. the AV-LLM's
      connectors and encoder adapters, where ``conv`` would find nothing to modulate.

    Args:
        alpha: modulation strength.
        ge: add the generalisation-enhancement noise.
        scope: ``conv`` or ``modality``, see above.
        seed: seed of the noise generator.
        phase_out: OGM's modulation window `[modulation_starts, modulation_ends]`, in steps.
    """

    uses_coefficients = True

    def __init__(
        self,
        alpha: float = 0.5,
        ge: bool = True,
        scope: Scope = "conv",
        seed: int = 0,
        modalities: tuple[str, ...] = ("audio", "video"),
        phase_out: PhaseOut | None = None,
    ) -> None:
        super().__init__(modalities, fused_weight=1.0, unimodal_weight=0.0, route="grad", phase_out=phase_out)
        if scope not in ("conv", "modality"):
            raise ValueError(f"OGMGE scope must be 'conv' or 'modality', got {scope!r}")
        self.alpha = float(alpha)
        self.ge = bool(ge)
        self.scope = scope
        self.generator = torch.Generator().manual_seed(int(seed))

    def rule(self, scores: Tensor) -> Tensor:
        return ogm_coefficients(scores, self.alpha)

    def _score_branches(self, out: ForwardOutputs) -> dict:
        return out.slices if out.slices is not None else out.unimodal

    def _apply_to_grads(self, params_by_modality: Mapping[str, Iterable[nn.Parameter]]) -> None:
        params = scoped_parameters(params_by_modality, self.scope)
        if self.ge and self.active:  # OGM-GE adds noise only inside the modulation window
            add_ge_noise(params, self.coefficients, self.generator)
        else:
            scale_gradients(params, self.coefficients)


def scoped_parameters(
    params_by_modality: Mapping[str, Iterable[nn.Parameter]], scope: Scope
) -> dict[str, list[nn.Parameter]]:
    """The parameters `OGMGE` touches: all of a modality's (``modality``) or its 4-D conv kernels (``conv``).

    Raises:
        ValueError: ``conv`` on a modality whose parameters hold no 4-D tensor (nothing would be modulated).
    """
    out = {m: list(ps) for m, ps in params_by_modality.items()}
    if scope == "modality":
        return out
    for m, ps in out.items():
        convs = [p for p in ps if p.dim() == 4]
        if ps and not convs:
            raise ValueError(
                f"OGMGE scope='conv': modality {m!r} has {len(ps)} parameters but no 4-D (conv) kernel; "
                "use balance.init_args.scope: modality for encoders without convolutions"
            )
        out[m] = convs
    return out
