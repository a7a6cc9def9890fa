"""The training loop every network method shares, in small pieces: set-up, one step, one epoch, a history row.

Randomness comes from three seeded sources only (weight init from torch's global generator, which the estimator
forks; input noise from a torch generator; batch order and dropout masks from numpy generators), drawn in a
fixed order, so that the same inputs give bit-identical weights.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import numpy as np
import torch

from sercross.infra import SercrossError
from sercross.methods.config import LOSS_NAMES, TERM_NAMES, TrainConfig, scheduled_lr
from sercross.methods.losses import ramp
from sercross.methods.network import DomainDiscriminator, TLMLDANet
from sercross.methods.precision import as_fp32, forward_precision
from sercross.methods.registry import MethodSpec
from sercross.methods.terms import TERMS, Step, compute_terms
from sercross.methods.weighting import WEIGHTINGS, WeightInputs

_ADV = TERM_NAMES.index("ADV")


def term_mask(names) -> torch.Tensor:
    """A bool vector over TERM_NAMES, True for the terms in ``names``."""
    return torch.tensor([n in names for n in TERM_NAMES])


ADAPTATION = term_mask([n for n, t in TERMS.items() if t.adaptation])


def history_row(epoch: int, means: torch.Tensor, recorded: list[str], shares: torch.Tensor | None,
                source_acc: float, seconds: float) -> dict:
    """One epoch of the history: mean loss, weight and weighted loss per term, gradient shares, accuracy."""
    idx = {n: TERM_NAMES.index(n) for n in recorded}
    row: dict = {"epoch": epoch}
    for kind, k in (("loss", 0), ("weight", 1), ("effective", 2)):
        row.update({f"{kind}_{n}": float(means[k, i]) for n, i in idx.items()})
    row["loss_total"] = float(means[2].sum())
    for n, i in idx.items():
        row[f"grad_share_{n}"] = None if shares is None else float(shares[i])
    row["source_train_acc"] = source_acc
    row["seconds"] = seconds
    return row


def gradient_shares(
    model: torch.nn.Module, w: torch.Tensor, losses: torch.Tensor, active: torch.Tensor
) -> torch.Tensor:
    """Share of each weighted term ``w_i L_i`` in the gradient norm on the encoder, the part all terms train.

    Shows when a term is effectively switched off (e.g. the paper's weights make small losses vanish).
    Monitoring only: it changes neither the update nor any random state.
    """
    params = [p for p in model.encoder.parameters() if p.requires_grad]
    norms = torch.zeros(len(losses))
    for i in range(len(losses)):
        if not active[i] or float(w[i]) == 0.0 or not losses[i].requires_grad:
            continue
        grads = torch.autograd.grad(w[i] * losses[i], params, retain_graph=True, allow_unused=True)
        norms[i] = torch.sqrt(sum((g.detach() ** 2).sum() for g in grads if g is not None))
    total = norms.sum()
    return norms / total if total > 0 else norms


def adapt_batch_norm(model: torch.nn.Module, X: torch.Tensor, chunk: int) -> None:
    """AdaBN (Li et al. 2017): replace batch-norm running statistics by those of the unlabelled target.

    A cumulative average over chunks of ``chunk`` utterances weighs every chunk equally.
    """
    bns = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm1d)]
    momenta = [m.momentum for m in bns]
    model.eval()  # dropout off
    for m in bns:
        m.reset_running_stats()
        m.momentum = None  # cumulative average over all target batches
        m.train()
    with torch.no_grad():
        for i in range(0, len(X), chunk):
            if len(X[i : i + chunk]) > 1:
                model(X[i : i + chunk])
    for m, momentum in zip(bns, momenta):
        m.momentum = momentum
    model.eval()


def index_stream(n: int, batch: int, steps: int, rng: np.random.Generator) -> np.ndarray:
    """``steps`` batches of indices into n samples, reshuffled each time all samples were seen."""
    need = steps * batch
    parts, have = [], 0
    while have < need:
        parts.append(rng.permutation(n))
        have += n
    return np.concatenate(parts)[:need].reshape(steps, batch)


def batch_minmax(x: torch.Tensor) -> torch.Tensor:
    """Each feature of the batch min-max scaled to [0, 1] over the batch's rows (a constant feature becomes 0, as
    scikit-learn's MinMaxScaler makes it): the authors' code scales every training batch this way."""
    lo = x.min(dim=0).values
    span = x.max(dim=0).values - lo
    return (x - lo) / torch.where(span > 0, span, torch.ones_like(span))


def _adam(params: list, cfg: TrainConfig) -> torch.optim.Optimizer:
    # The fused CPU kernel does the whole update in one pass over the 7M parameters (about 20 % of a step
    # on 2 cores with the per-tensor loop); older torch builds lack it.
    try:
        return torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay, fused=True)
    except (RuntimeError, TypeError):
        return torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)


class Trainer:
    """Trains one network for a method; ``model`` and ``history`` are filled as it goes.

    Builds the network from torch's global generator (the caller seeds it) before anything else draws from it.
    """

    def __init__(self, spec: MethodSpec, cfg: TrainConfig, alpha: tuple[float, ...], n_classes: int,
                 random_state: int, Xs: np.ndarray, ys: np.ndarray, Xt: np.ndarray):
        self.spec, self.cfg, self.n_classes = spec, cfg, n_classes
        self.gen = torch.Generator().manual_seed(random_state)  # input noise
        self.rng = np.random.default_rng(random_state)  # batch order
        self.model = TLMLDANet.for_config(Xs.shape[1], n_classes, cfg)
        self.model.set_dropout_rng(np.random.default_rng([random_state, 1]))  # dropout masks
        self.xs = torch.from_numpy(np.ascontiguousarray(Xs, np.float32))
        self.xt = torch.from_numpy(np.ascontiguousarray(Xt, np.float32))
        self.ys = torch.from_numpy(np.asarray(ys, dtype=np.int64))
        self.steps = math.ceil(max(len(self.xs), len(self.xt)) / cfg.batch_size)
        self.active = spec.active
        self.active_t = torch.tensor(spec.active)
        self.alpha = torch.tensor(tuple(alpha) + (1.0,) * (len(TERM_NAMES) - len(alpha)), dtype=torch.float32)
        self.normalized = term_mask(spec.normalized_terms)
        on = [n for n in TERM_NAMES if spec.uses(n)]
        self.uses_target = any(TERMS[n].target for n in on)
        self.uses_decoder = any(TERMS[n].decoder for n in on)
        self.recorded = [n for n in TERM_NAMES if n in LOSS_NAMES or spec.uses(n)]
        self.discriminator = None
        if spec.uses("ADV"):
            self.discriminator = DomainDiscriminator(cfg.dnn_sizes[-1], spec.discriminator_width)
        self.opt = self._optimizer()
        self.history: list[dict] = []
        self._prev_epoch: torch.Tensor | None = None  # mean losses of the previous epoch
        self._running: torch.Tensor | None = None  # running mean of each loss, for the "normalized" weighting

    def _optimizer(self) -> torch.optim.Optimizer:
        opt = _adam(list(self.model.parameters()), self.cfg)
        if self.discriminator is not None:
            opt.add_param_group({"params": list(self.discriminator.parameters())})
        return opt

    def run(self, on_epoch: Callable[[int, dict], None] | None = None) -> None:
        for epoch in range(self.cfg.epochs):
            row = self.epoch(epoch)
            if on_epoch is not None:
                on_epoch(epoch + 1, row)  # may add monitoring columns to row
            self.history.append(row)
        if self.cfg.adabn:
            adapt_batch_norm(self.model, self.xt, max(self.cfg.batch_size, self.cfg.adabn_chunk))
        self.model.set_dropout_rng(None)
        self.model.eval()

    def epoch(self, epoch: int) -> dict:
        t0 = time.perf_counter()
        self.model.train()
        if self.cfg.adam_reset and epoch > 0:
            self.opt = self._optimizer()  # fresh moment estimates, as the authors' code builds Adam every epoch
        bs_s, bs_t = min(self.cfg.batch_size, len(self.xs)), min(self.cfg.batch_size, len(self.xt))
        idx_s = index_stream(len(self.xs), bs_s, self.steps, self.rng)
        idx_t = index_stream(len(self.xt), bs_t, self.steps, self.rng)
        sums = torch.zeros(3, len(TERM_NAMES))  # rows: losses, weights, weighted losses
        correct = seen = 0
        shares = None
        every = self.cfg.grad_share_every
        measure = bool(every) and ((epoch + 1) % every == 0 or epoch + 1 == self.cfg.epochs)
        for step in range(self.steps):
            progress = (epoch * self.steps + step) / (self.cfg.epochs * self.steps)
            values, w, hits, step_shares = self.step(idx_s[step], idx_t[step], progress, (epoch, step),
                                                     measure and step == 0)
            shares = step_shares if step_shares is not None else shares
            sums += torch.stack([values, w, w * values])
            correct += hits
            seen += len(idx_s[step])
        means = sums / self.steps
        self._prev_epoch = means[0]
        return history_row(epoch + 1, means, self.recorded, shares, correct / max(seen, 1),
                           time.perf_counter() - t0)

    def step(self, idx_s: np.ndarray, idx_t: np.ndarray, progress: float, where: tuple[int, int],
             measure: bool) -> tuple[torch.Tensor, torch.Tensor, int, torch.Tensor | None]:
        """One update; returns the loss values, the weights, correct source predictions and gradient shares."""
        cfg = self.cfg
        if cfg.lr_schedule != "constant":
            for group in self.opt.param_groups:
                group["lr"] = scheduled_lr(cfg, progress)
        batch = self.forward(idx_s, idx_t, ramp(progress) if cfg.ramp else 1.0)
        losses = compute_terms(batch, self.active)
        values = losses.detach()
        self._running = values.clone() if self._running is None else (
            cfg.norm_momentum * self._running + (1 - cfg.norm_momentum) * values
        )
        w = self.weights(values, batch.ramp)
        total = (w * losses).sum()
        if not torch.isfinite(total):
            raise self._diverged(where, total, values)
        shares = gradient_shares(self.model, w, losses, self.active_t) if measure else None
        self.opt.zero_grad(set_to_none=True)
        total.backward()
        self.opt.step()
        hits = int((batch.logit_s.detach().argmax(1) == batch.ys).sum())
        return values, w, hits, shares

    def forward(self, idx_s: np.ndarray, idx_t: np.ndarray, r: float) -> Step:
        """The network on one noisy source batch (and target batch, when a term needs it)."""
        cfg, model = self.cfg, self.model
        xs, yb = self.xs[idx_s], self.ys[idx_s]
        if cfg.batch_minmax:
            xs = batch_minmax(xs)
        # One noise vector for the step (authors' code) or one value per input (the paper's reading).
        noise = cfg.noise_std * torch.randn(xs.shape[1:] if cfg.noise_shared else xs.shape, generator=self.gen)
        noisy_s = xs + noise
        common = dict(config=cfg, n_classes=self.n_classes, xs=xs, ys=yb, ramp=r, discriminator=self.discriminator)
        if not self.uses_target:
            with forward_precision(cfg.precision):
                rec_s, fs, logit_s = model(noisy_s, reconstruct=self.uses_decoder)
            rec_s, fs, logit_s = as_fp32(rec_s, fs, logit_s)
            return Step(fs=fs, logit_s=logit_s, rec_s=rec_s, **common)
        xt = self.xt[idx_t]
        if cfg.batch_minmax:
            xt = batch_minmax(xt)
        noisy_t = xt + (noise if cfg.noise_shared else cfg.noise_std * torch.randn(xt.shape, generator=self.gen))
        n = len(xs)
        # One matmul per layer serves both domains. Batch-norm statistics: shared ("joint"), or per domain
        # (n_first; the paper's reading, see docs/protocol.md). In bf16 only this forward pass runs under autocast:
        # the loss terms get fp32 copies of its outputs.
        with forward_precision(cfg.precision):
            rec, feats, logits = model(torch.cat([noisy_s, noisy_t]), reconstruct=self.uses_decoder,
                                       n_first=None if cfg.bn_mode == "joint" else n)
        rec, feats, logits = as_fp32(rec, feats, logits)
        rec_s, rec_t = (rec[:n], rec[n:]) if rec is not None else (None, None)
        return Step(fs=feats[:n], ft=feats[n:], logit_s=logits[:n], logit_t=logits[n:], rec_s=rec_s, rec_t=rec_t,
                    xt=xt, **common)

    def weights(self, values: torch.Tensor, r: float) -> torch.Tensor:
        """The method's weighting strategy, the ramp on adaptation terms, and DANN's unit weight on ADV."""
        cfg = self.cfg
        basis = self._prev_epoch if (cfg.weight_update == "epoch" and self._prev_epoch is not None) else values
        x = WeightInputs(basis, self.alpha, self.active_t, self._running, cfg.adapt_weight, ADAPTATION,
                         self.normalized)
        w = WEIGHTINGS[self.spec.weighting](x)
        if cfg.ramp:
            w = (w * r).where(ADAPTATION, w)
        if self.discriminator is not None:
            w[_ADV] = 1.0  # DANN scales the reversed gradient instead of the loss
        return w

    def _diverged(self, where: tuple[int, int], total: torch.Tensor, values: torch.Tensor) -> SercrossError:
        parts = ", ".join(f"{n}={float(v):.4g}" for n, v in zip(TERM_NAMES, values) if n in self.recorded)
        return SercrossError(
            f"training diverged at epoch {where[0] + 1}, step {where[1] + 1}: the loss is "
            f"{float(total.detach())} ({parts})",
            hint="lower the learning rate (--lr) and check the features for extreme values",
        )
