"""Weighting strategies: how the weights w_i of the loss terms are set at each step (total loss sum_i w_i L_i).

A strategy is a function of :class:`WeightInputs` returning one weight per term (0 for terms that take no
part); ``WEIGHTINGS`` maps the names a method definition may use to them. Adding a strategy is one function
and one entry. The module is torch-free at import (it uses tensor methods only), so method definitions can
check a weighting's name without loading torch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from torch import Tensor


@dataclass(frozen=True)
class WeightInputs:
    """What a strategy may read. Vectors have one entry per term (in the order of TERM_NAMES)."""

    losses: Tensor  # the loss values the weights follow (detached): this step's, or the previous epoch's means
    alpha: Tensor  # alpha_i, the method's per-term factors
    active: Tensor  # bool: the terms that take part
    running: Tensor | None = None  # running mean of each loss (TrainConfig.norm_momentum)
    adapt_weight: float = 1.0  # lambda (TrainConfig.adapt_weight)
    adaptation: Tensor | None = None  # bool: the domain-adaptation terms, which lambda scales
    normalized: Tensor | None = None  # bool: the terms the "normalized" strategy divides (MethodSpec)

    @property
    def mask(self) -> Tensor:
        return self.active.to(self.losses.dtype)


def dynamic_weights(loss_values: Tensor, alpha: Tensor) -> Tensor:
    """The paper's eq. 6: ``w_i = alpha_i * L_i / sum_j L_j`` from detached loss values."""
    values = loss_values.detach()
    total = values.sum()
    if not bool(total.isfinite()) or total <= 0:
        return alpha.clone()
    return alpha * values / total


def dynamic_alpha(x: WeightInputs) -> Tensor:
    """TLMLDA (paper eq. 5-6): w_i = alpha_i L_i / sum_j L_j over the active terms."""
    mask = x.mask
    return dynamic_weights(x.losses * mask, x.alpha * mask)


def dynamic(x: WeightInputs) -> Tensor:
    """Ablation TLMLDA_w: the dynamic weights without alpha, w_i = L_i / sum_j L_j."""
    mask = x.mask
    return dynamic_weights(x.losses * mask, x.alpha.new_ones(x.alpha.shape) * mask)


def fixed_alpha(x: WeightInputs) -> Tensor:
    """Ablation TLMLDA_alpha: w_i = alpha_i."""
    return x.alpha * x.mask


def unit(x: WeightInputs) -> Tensor:
    """w_i = 1 for every active term (Only_cls)."""
    return x.mask.clone()


def lambda_(x: WeightInputs) -> Tensor:
    """The DA baselines: L_y + lambda * adaptation terms (every other active term weighs 1)."""
    mask = x.mask
    lam = mask.new_full(mask.shape, x.adapt_weight)
    return mask * lam.where(x.adaptation, mask.new_ones(mask.shape))


def normalized(x: WeightInputs) -> Tensor:
    """TLMLDA+: w_i = alpha_i / running mean of L_i for the terms in ``x.normalized``, w_i = alpha_i otherwise.

    Only reconstruction and classification are divided (MethodSpec.normalized_terms): distance terms and the
    diversity term have tiny values but gradients that are not, and dividing by their values made the features
    collapse (bench/plus_variants_rv.md, round 1).
    """
    scale = (x.running if x.running is not None else x.losses).clamp_min(1e-8)
    scale = scale.where(x.normalized, scale.new_ones(scale.shape))
    return x.mask * x.alpha / scale


WEIGHTINGS = {
    "dynamic_alpha": dynamic_alpha,
    "dynamic": dynamic,
    "alpha": fixed_alpha,
    "unit": unit,
    "lambda": lambda_,
    "normalized": normalized,
}
