"""The TLMLDA network: denoising auto-encoder, a DNN on its code, and a softmax classifier (paper, 2.1, 3.2)."""

from __future__ import annotations

import torch
from torch import nn


def _block(n_in: int, n_out: int, activation: nn.Module, dropout: float | None) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Linear(n_in, n_out), nn.BatchNorm1d(n_out), activation]
    if dropout:
        layers.append(nn.Dropout(dropout))
    return nn.Sequential(*layers)


class TLMLDANet(nn.Module):
    """DAE ``d-1200-900-500-900-1200-d`` (ELU encoder, sigmoid decoder, batch-norm and dropout per layer),
    DNN ``500-600-256`` with sigmoids, and a linear classifier whose softmax lives in the loss.

    Dropout is not applied to the reconstruction itself: the paper puts dropout "in each layer structure",
    and dropping reconstructed values would only add noise to the reconstruction loss.
    """

    def __init__(
        self,
        n_features: int,
        n_classes: int,
        encoder_sizes: tuple[int, ...] = (1200, 900, 500),
        dnn_sizes: tuple[int, ...] = (600, 256),
        dropout: float = 0.5,
    ):
        super().__init__()
        enc, n = [], n_features
        for h in encoder_sizes:
            enc.append(_block(n, h, nn.ELU(), dropout))
            n = h
        dec = []
        for h in tuple(reversed(encoder_sizes[:-1])):
            dec.append(_block(n, h, nn.Sigmoid(), dropout))
            n = h
        dec.append(_block(n, n_features, nn.Sigmoid(), None))
        dnn, n = [], encoder_sizes[-1]
        for h in dnn_sizes:
            dnn += [nn.Linear(n, h), nn.Sigmoid()]
            n = h
        self.encoder = nn.Sequential(*enc)
        self.decoder = nn.Sequential(*dec)
        self.dnn = nn.Sequential(*dnn)
        self.classifier = nn.Linear(n, n_classes)
        self.n_features = n_features
        self.n_classes = n_classes

    def forward(self, x: torch.Tensor, reconstruct: bool = True):
        """Returns (reconstruction or None, learned features, class logits)."""
        code = self.encoder(x)
        features = self.dnn(code)
        logits = self.classifier(features)
        recon = self.decoder(code) if reconstruct else None
        return recon, features, logits


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
