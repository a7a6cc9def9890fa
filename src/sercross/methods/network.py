"""The TLMLDA network: denoising auto-encoder, a DNN on its code, and a softmax classifier (paper, 2.1, 3.2)."""

from __future__ import annotations

from contextlib import nullcontext

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


class Dropout(nn.Module):
    """Inverted dropout whose masks come from a numpy generator's raw bytes when one is attached.

    torch's CPU ``bernoulli_`` draws one Mersenne-Twister number per element: about 3 ms for a 200 x 1200
    mask, 8 % of a training step. Comparing 16-bit random words with ``p * 65536`` gives the same
    Bernoulli masks (p rounded to 1/65536) for a tenth of the cost. Without a generator (``rng=None``)
    it is torch's own dropout.
    """

    def __init__(self, p: float):
        super().__init__()
        self.p = p
        self.rng: np.random.Generator | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0:
            return x
        if self.rng is None:
            return F.dropout(x, self.p, training=True)
        threshold = min(max(round(self.p * 65536), 0), 65536)
        if threshold == 65536:
            return x * 0.0  # everything dropped, as torch does for p = 1 (no rescaling to divide by zero)
        words = np.frombuffer(self.rng.bytes(2 * x.numel()), np.uint16).reshape(x.shape)
        mask = np.empty(x.shape, np.float32)
        np.greater_equal(words, threshold, out=mask, casting="unsafe")
        mask *= 65536 / (65536 - threshold)  # keep probability exactly as sampled
        keep = torch.from_numpy(mask)
        # Under bf16 autocast the activations stay bf16 (the mask's 0 and 1/(1-p) are exact in bf16 for p = 0.5).
        return x * (keep if x.dtype == keep.dtype else keep.to(x.dtype))

    def extra_repr(self) -> str:
        return f"p={self.p}"


class InputLinear(nn.Module):
    """The network's first layer, ``x @ W + b`` with W stored as (in, out) rather than nn.Linear's (out, in).

    Its weight gradient is then ``x.T @ grad``, which MKL computes at full speed for the (1582 x 200) @
    (200 x 1200) shape, where nn.Linear's ``grad.T @ x`` into a (1200 x 1582) matrix ran at about 60 % of
    the matmul peak: 4-6 ms of a 115 ms single-thread step. Initialised exactly like nn.Linear (same random
    draws); state dicts saved with nn.Linear's ``weight`` load too.
    """

    def __init__(self, in_features: int, out_features: int):
        super().__init__()
        ref = nn.Linear(in_features, out_features)
        self.in_features, self.out_features = in_features, out_features
        self.weight_t = nn.Parameter(ref.weight.detach().t().contiguous())
        self.bias = nn.Parameter(ref.bias.detach().clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.addmm(self.bias, x, self.weight_t)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        old = prefix + "weight"
        if old in state_dict and prefix + "weight_t" not in state_dict:
            state_dict[prefix + "weight_t"] = state_dict.pop(old).t().contiguous()
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}"


def _block(
    n_in: int, n_out: int, activation: nn.Module, dropout: float | None, first: bool = False
) -> nn.Sequential:
    linear = InputLinear(n_in, n_out) if first else nn.Linear(n_in, n_out)
    layers: list[nn.Module] = [linear, nn.BatchNorm1d(n_out), activation]
    if dropout:
        layers.append(Dropout(dropout))
    return nn.Sequential(*layers)


def _layers(seq: nn.Module):
    for m in seq.children():
        if isinstance(m, nn.Sequential):
            yield from _layers(m)
        else:
            yield m


class TLMLDANet(nn.Module):
    """DAE ``d-1200-900-500-900-1200-d`` (ELU encoder, sigmoid decoder, batch-norm and dropout per layer),
    DNN ``500-600-256`` with sigmoids, and a linear classifier whose softmax lives in the loss.

    Dropout is not applied to the reconstruction itself: the paper puts dropout "in each layer structure",
    and dropping reconstructed values would only add noise to the reconstruction loss. ``code_dropout=False``
    leaves it off the encoder's last layer too, and ``dnn_batchnorm=True`` puts batch-norm after every DNN layer
    but the last, as the authors' public code does.
    """

    # Under bf16 autocast, the DNN and the classifier still run in fp32 (6 % of the matmul FLOPs): the features that
    # MMD, LMMD and the classifier read are then fp32. Measured (bench/precision_terms.md): with them in bf16 the
    # gradients of MMD and LMMD are 5-7 % off their fp32 values, with them in fp32 about 1 %. False only to measure.
    head_fp32 = True

    def __init__(
        self,
        n_features: int,
        n_classes: int,
        encoder_sizes: tuple[int, ...] = (1200, 900, 500),
        dnn_sizes: tuple[int, ...] = (600, 256),
        dropout: float = 0.5,
        code_dropout: bool = True,
        dnn_batchnorm: bool = False,
    ):
        super().__init__()
        enc, n = [], n_features
        for i, h in enumerate(encoder_sizes):
            last = i == len(encoder_sizes) - 1
            enc.append(_block(n, h, nn.ELU(), dropout if code_dropout or not last else None, first=not enc))
            n = h
        dec = []
        for h in tuple(reversed(encoder_sizes[:-1])):
            dec.append(_block(n, h, nn.Sigmoid(), dropout))
            n = h
        dec.append(_block(n, n_features, nn.Sigmoid(), None))
        dnn, n = [], encoder_sizes[-1]
        for i, h in enumerate(dnn_sizes):
            norm = [nn.BatchNorm1d(h)] if dnn_batchnorm and i < len(dnn_sizes) - 1 else []
            dnn += [nn.Linear(n, h), *norm, nn.Sigmoid()]
            n = h
        self.encoder = nn.Sequential(*enc)
        self.decoder = nn.Sequential(*dec)
        self.dnn = nn.Sequential(*dnn)
        self.classifier = nn.Linear(n, n_classes)
        self.n_features = n_features
        self.n_classes = n_classes

    @classmethod
    def for_config(cls, n_features: int, n_classes: int, cfg) -> TLMLDANet:
        """The network a :class:`~sercross.methods.config.TrainConfig` describes."""
        return cls(n_features, n_classes, cfg.encoder_sizes, cfg.dnn_sizes, cfg.dropout, cfg.code_dropout,
                   cfg.dnn_batchnorm)

    def forward(self, x: torch.Tensor, reconstruct: bool = True, n_first: int | None = None):
        """Returns (reconstruction or None, learned features, class logits).

        ``n_first``: ``x`` stacks two batches (source rows first, ``n_first`` of them, then target rows).
        Each linear layer is still one matmul over both, but in training batch-norm normalises each batch
        with its own statistics and updates its running statistics with the first batch, then the second:
        the same model as two separate passes, with half the matmul calls and no gradient accumulation
        between them. Only the dropout masks are drawn in a different order.
        """
        def run(seq: nn.Module, h: torch.Tensor) -> torch.Tensor:
            if n_first is None or not self.training:
                return seq(h)
            for layer in _layers(seq):
                if isinstance(layer, nn.BatchNorm1d):
                    h = torch.cat([layer(h[:n_first]), layer(h[n_first:])])
                else:
                    h = layer(h)
            return h

        code = run(self.encoder, x)
        with torch.autocast("cpu", enabled=False) if self.head_fp32 else nullcontext():
            features = run(self.dnn, code.float() if self.head_fp32 else code)
            logits = self.classifier(features)
        recon = run(self.decoder, code) if reconstruct else None
        return recon, features, logits

    def set_dropout_rng(self, rng: np.random.Generator | None) -> None:
        """Draw dropout masks from ``rng`` (fast, seeded) or, with None, from torch's generator."""
        for m in self.modules():
            if isinstance(m, Dropout):
                m.rng = rng


class _GradientReversal(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, coeff):
        ctx.coeff = coeff
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad):
        return -ctx.coeff * grad, None


class DomainDiscriminator(nn.Module):
    """DANN's domain classifier on the learned features, behind a gradient-reversal layer."""

    def __init__(self, n_in: int, hidden: int = 128):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(n_in, hidden), nn.ReLU(), nn.Linear(hidden, 1))

    def forward(self, features: torch.Tensor, coeff: float) -> torch.Tensor:
        return self.net(_GradientReversal.apply(features, coeff)).squeeze(1)
