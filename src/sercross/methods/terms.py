"""The loss terms a network method combines, one function each, registered in ``TERMS``.

A term is a function of the :class:`Step` (what one training step has computed: inputs, reconstructions,
features, logits, labels, the config) returning a scalar tensor. Adding a term: write its function here with
``@term(NAME, ...flags)`` (the registry entry) and append NAME to ``config.TERM_NAMES`` (the torch-free list that
method definitions index, so that listing methods never imports torch; an import-time check keeps both equal).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

import torch
import torch.nn.functional as F

from sercross.methods.config import RECON_LOSSES, TERM_NAMES, TrainConfig
from sercross.methods.losses import coral, diversity, lmmd, mmd, multi_gaussian_kernel


@dataclass
class Step:
    """What one training step has: clean inputs, labels, and the network's outputs on the noisy inputs.

    Target fields are None when no term of the method needs the target batch; reconstructions are None when
    no term needs the decoder. Quantities several terms share (the kernel matrix, the target probabilities)
    are computed on first use.
    """

    config: TrainConfig
    n_classes: int
    xs: torch.Tensor
    ys: torch.Tensor
    fs: torch.Tensor
    logit_s: torch.Tensor
    rec_s: torch.Tensor | None = None
    xt: torch.Tensor | None = None
    ft: torch.Tensor | None = None
    logit_t: torch.Tensor | None = None
    rec_t: torch.Tensor | None = None
    ramp: float = 1.0  # DANN's schedule at this step (1 without TrainConfig.ramp)
    discriminator: torch.nn.Module | None = None

    @cached_property
    def kernel(self) -> torch.Tensor:
        """One kernel matrix (all bandwidths) of the stacked features serves both MMD and LMMD."""
        return multi_gaussian_kernel(self.fs, self.ft, self.config.kernel_num, self.config.kernel_mul)

    @cached_property
    def target_probs(self) -> torch.Tensor:
        return torch.softmax(self.logit_t, dim=1)


def _sse(recon: torch.Tensor, clean: torch.Tensor) -> torch.Tensor:
    return ((recon - clean) ** 2).sum(dim=1).mean()


def _bce(recon: torch.Tensor, clean: torch.Tensor) -> torch.Tensor:
    return F.binary_cross_entropy(recon, clean, reduction="none").sum(dim=1).mean()


def _bce_mean(recon: torch.Tensor, clean: torch.Tensor) -> torch.Tensor:
    return F.binary_cross_entropy(recon, clean)


# TrainConfig.recon_loss -> reconstruction error: per utterance summed over features, mean over the batch ("sse",
# "bce"), or the mean over utterances and features ("bce_mean", torch's nn.BCELoss() default, the authors' code:
# 1582 times smaller than "bce", which changes what eq. 6's dynamic weights give each term).
RECON = {"sse": _sse, "bce": _bce, "bce_mean": _bce_mean}


@dataclass(frozen=True)
class Term:
    compute: Callable[[Step], torch.Tensor]
    target: bool = False  # needs the target batch
    decoder: bool = False  # needs the reconstructions
    adaptation: bool = False  # a domain-adaptation term: lambda and the ramp scale it
    always: bool = False  # computed (and recorded) even when the method gives it no weight


# Filled by @term in the order the functions below are defined, which is the order the terms are computed and
# so the order the autograd graph is built in: keep it, or the gradient sums (hence every trained weight) change
# in their last bits. A new term goes at the end.
TERMS: dict[str, Term] = {}


def term(name: str, **flags: bool) -> Callable[[Callable[[Step], torch.Tensor]], Callable[[Step], torch.Tensor]]:
    """Register the decorated function as loss term ``name`` (``flags``: the fields of :class:`Term`)."""

    def register(compute: Callable[[Step], torch.Tensor]) -> Callable[[Step], torch.Tensor]:
        TERMS[name] = Term(compute, **flags)
        return compute

    return register


@term("L_y", always=True)
def source_classification(s: Step) -> torch.Tensor:
    """L_y: cross-entropy of the classifier on the labelled source."""
    return F.cross_entropy(s.logit_s, s.ys)


@term("L_S", decoder=True)
def source_reconstruction(s: Step) -> torch.Tensor:
    """L_S: the denoising auto-encoder's reconstruction error on the source (paper eq. 1)."""
    return RECON[s.config.recon_loss](s.rec_s, s.xs)


@term("L_T", target=True, decoder=True)
def target_reconstruction(s: Step) -> torch.Tensor:
    """L_T: the same on the unlabelled target."""
    return RECON[s.config.recon_loss](s.rec_t, s.xt)


@term("MMD", target=True, adaptation=True)
def global_mmd(s: Step) -> torch.Tensor:
    """MMD between source and target features (paper eq. 3)."""
    return mmd(s.fs, s.ft, kernel=s.kernel)


@term("DIV", target=True)
def target_diversity(s: Step) -> torch.Tensor:
    """DIV: log C minus the entropy of the mean target prediction (TLMLDA+)."""
    return diversity(s.target_probs)


@term("LMMD", target=True, adaptation=True)
def local_mmd(s: Step) -> torch.Tensor:
    """LMMD: class-conditional MMD, target classes from the classifier's probabilities (paper eq. 4)."""
    return lmmd(s.fs, s.ft, s.ys, s.target_probs, s.n_classes, kernel=s.kernel,
                threshold=s.config.pseudo_threshold)


@term("CORAL", target=True, adaptation=True)
def coral_distance(s: Step) -> torch.Tensor:
    """CORAL: distance of the feature covariances (Deep CORAL)."""
    return coral(s.fs, s.ft)


@term("ADV", target=True, adaptation=True)
def domain_adversarial(s: Step) -> torch.Tensor:
    """ADV: DANN's domain classifier loss; the reversed gradient carries lambda and the ramp."""
    dom = s.discriminator(torch.cat([s.fs, s.ft]), s.config.adapt_weight * s.ramp)
    labels = torch.cat([torch.ones(len(s.fs)), torch.zeros(len(s.ft))])
    return F.binary_cross_entropy_with_logits(dom, labels)


if set(TERMS) != set(TERM_NAMES) or set(RECON) != set(RECON_LOSSES):  # the torch-free lists must match
    raise ImportError("methods/terms.py and methods/config.py disagree on the term or reconstruction names")


def compute_terms(step: Step, active: tuple[bool, ...]) -> torch.Tensor:
    """The vector of every term's value (in TERM_NAMES order); terms that take no part are a graph-connected 0."""
    zero = step.logit_s.sum() * 0.0
    values = [zero] * len(TERM_NAMES)
    for name, term in TERMS.items():
        i = TERM_NAMES.index(name)
        if term.always or active[i]:
            values[i] = term.compute(step)
    return torch.stack(values)
