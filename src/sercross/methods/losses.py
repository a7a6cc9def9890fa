"""Distribution-matching losses as pure tensor functions.

MMD and LMMD use a sum of Gaussian kernels, as in DAN (Long et al., ICML 2015) and DSAN (Zhu et al.,
IEEE TNNLS 2021, the paper's reference [33]): bandwidths ``base * mul**k`` for k = 0..num-1, centred on the
mean pairwise squared distance of the joint batch. One distance matrix serves all bandwidths.
"""

from __future__ import annotations

import math

import torch


def multi_gaussian_kernel(
    source: torch.Tensor,
    target: torch.Tensor,
    kernel_num: int = 5,
    kernel_mul: float = 2.0,
    bandwidth: float | None = None,
) -> torch.Tensor:
    """Kernel matrix of the stacked batch ``[source; target]`` (size (n+m) x (n+m))."""
    z = torch.cat([source, target], dim=0)
    sq = (z * z).sum(dim=1, keepdim=True)
    # ||a-b||^2 = |a|^2 + |b|^2 - 2ab, clamped because rounding can make it slightly negative.
    d2 = (sq + sq.T - 2.0 * (z @ z.T)).clamp_min_(0.0)
    if bandwidth is None:
        n = z.shape[0]
        # The bandwidth is a statistic of the batch, not something to optimise: keep it out of the graph.
        bandwidth = float(d2.detach().sum()) / max(n * n - n, 1)
    bandwidth = max(bandwidth, 1e-12)
    base = bandwidth / (kernel_mul ** (kernel_num // 2))
    k = torch.zeros_like(d2)
    for i in range(kernel_num):
        k = k + torch.exp(-d2 / (base * kernel_mul**i))
    return k


def mmd(
    source: torch.Tensor, target: torch.Tensor, kernel_num: int = 5, kernel_mul: float = 2.0,
    kernel: torch.Tensor | None = None,
) -> torch.Tensor:
    """Biased estimate of the squared MMD between two samples (the paper's eq. 3, squared as in DAN).

    ``kernel``: the matrix of :func:`multi_gaussian_kernel` when the caller already has it (LMMD shares it).
    """
    n = source.shape[0]
    k = multi_gaussian_kernel(source, target, kernel_num, kernel_mul) if kernel is None else kernel
    return k[:n, :n].mean() + k[n:, n:].mean() - 2.0 * k[:n, n:].mean()


def class_weights(
    source_labels: torch.Tensor, target_probs: torch.Tensor, num_classes: int, threshold: float = 0.0
) -> tuple[torch.Tensor, torch.Tensor, int]:
    """DSAN's per-class sample weights ``mu_{i,c}``: each class column sums to one.

    Source weights come from the true source labels; target weights from the classifier's softmax on the
    target (never from target labels). A class takes part only when it is present in the source batch and
    predicted at least once on the target batch. Target samples whose top probability is below ``threshold``
    get no weight (confidence-filtered pseudo-labels). Returns (w_s [n, C], w_t [m, C], number of classes used).
    """
    probs = target_probs.detach()
    labels = probs.argmax(dim=1)
    if threshold > 0:
        confident = probs.max(dim=1, keepdim=True).values >= threshold
        probs = probs * confident.to(probs.dtype)
        # A filtered-out sample predicts nothing. (Taking the argmax of its zeroed row made class 0 count as
        # predicted, aligning it with weights from samples predicted as other classes; fixed after the
        # "filter 0.5" rows of bench/plus_variants_rv.md were first made.)
        labels = labels[confident.squeeze(1)]
    ws = torch.nn.functional.one_hot(source_labels, num_classes).to(probs.dtype)
    src_count = ws.sum(dim=0)
    tgt_mass = probs.sum(dim=0)
    predicted = torch.zeros(num_classes, dtype=torch.bool, device=probs.device)
    predicted[labels] = True
    active = (src_count > 0) & predicted
    ws = ws / src_count.clamp_min(1.0)
    wt = probs / tgt_mass.clamp_min(1e-12)
    mask = active.to(probs.dtype)
    return ws * mask, wt * mask, int(active.sum())


def lmmd(
    source: torch.Tensor,
    target: torch.Tensor,
    source_labels: torch.Tensor,
    target_probs: torch.Tensor,
    num_classes: int,
    kernel_num: int = 5,
    kernel_mul: float = 2.0,
    kernel: torch.Tensor | None = None,
    threshold: float = 0.0,
) -> torch.Tensor:
    """Local (class-conditional) MMD, the paper's eq. 4 in DSAN's form, averaged over the active classes."""
    n = source.shape[0]
    ws, wt, used = class_weights(source_labels, target_probs, num_classes, threshold)
    if used == 0:
        return source.sum() * 0.0  # keeps the graph connected; no class to align in this batch
    k = multi_gaussian_kernel(source, target, kernel_num, kernel_mul) if kernel is None else kernel
    # sum_c [ws_c' Kss ws_c + wt_c' Ktt wt_c - 2 ws_c' Kst wt_c]
    ss = (ws.T @ k[:n, :n] @ ws).diagonal().sum()
    tt = (wt.T @ k[n:, n:] @ wt).diagonal().sum()
    st = (ws.T @ k[:n, n:] @ wt).diagonal().sum()
    return (ss + tt - 2.0 * st) / used


def coral(source: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Deep CORAL (Sun & Saenko, ECCV-W 2016): squared Frobenius distance of the feature covariances / 4d^2."""
    d = source.shape[1]

    def cov(x: torch.Tensor) -> torch.Tensor:
        xc = x - x.mean(dim=0, keepdim=True)
        return xc.T @ xc / max(x.shape[0] - 1, 1)

    return ((cov(source) - cov(target)) ** 2).sum() / (4.0 * d * d)


def diversity(target_probs: torch.Tensor) -> torch.Tensor:
    """log C minus the entropy of the batch's mean target prediction: 0 when the classes are used evenly,
    log C when every target sample goes to one class.

    The diversity half of information maximisation (Gomes et al., NeurIPS 2010; SHOT, Liang et al., ICML
    2020). It counters the collapse class-conditional alignment can run into: when the target is predicted
    as one class, LMMD only pulls the whole target towards that class.
    """
    mean = target_probs.mean(dim=0)
    return math.log(target_probs.shape[1]) + (mean * torch.log(mean.clamp_min(1e-12))).sum()


def ramp(progress: float) -> float:
    """DANN's schedule 2 / (1 + exp(-10 p)) - 1: 0 at the start of training, close to 1 from mid-training on."""
    return 2.0 / (1.0 + math.exp(-10.0 * progress)) - 1.0

