"""Training TLMLDA and its ablations: the five losses, their dynamic weights, and the loop.

:class:`TLMLDA` follows scikit-learn's conventions (``fit`` / ``predict`` / ``transform``, explicit
``random_state``). ``fit`` sees source features, source labels and *unlabelled* target features only;
target labels cannot reach it.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from sercross.infra import SercrossError, usable_cpus
from sercross.methods.config import (
    ADAPTATION_TERMS,
    LOSS_NAMES,
    TARGET_TERMS,
    TERM_NAMES,
    MethodSpec,
    TrainConfig,
    get_method,
)
from sercross.methods.losses import coral, diversity, dynamic_weights, lmmd, mmd, multi_gaussian_kernel, ramp
from sercross.methods.network import DomainDiscriminator, TLMLDANet

# Which of TERM_NAMES are domain-adaptation terms (scaled by lambda and by the ramp).
_ADAPTATION = torch.tensor([n in ADAPTATION_TERMS for n in TERM_NAMES])
# The "normalized" weighting divides only the reconstruction and classification losses by their running
# means. Distance terms (MMD, LMMD, ...) and the diversity term keep fixed weights alpha_i: their values are
# tiny but their gradients are not, and dividing by the values made the features collapse (the classifier
# stopped learning; seen by reverse validation on the source, README "Beyond the paper").
_NORMALISED = torch.tensor([n in ("L_S", "L_T", "L_y") for n in TERM_NAMES])


def combine_weights(
    method: MethodSpec,
    alpha: torch.Tensor,
    losses: torch.Tensor,
    active: torch.Tensor,
    config: TrainConfig | None = None,
    running: torch.Tensor | None = None,
) -> torch.Tensor:
    """Weights w_i of the loss terms for a method; inactive terms get 0.

    ``running``: running means of the losses (the "normalized" weighting divides by them).
    """
    mask = active.to(losses.dtype)
    if method.weighting == "unit":
        return mask.clone()
    if method.weighting == "alpha":
        return alpha * mask
    if method.weighting == "lambda":
        lam = config.adapt_weight if config is not None else 1.0
        return mask * torch.where(_ADAPTATION[: len(losses)], torch.full_like(mask, lam), torch.ones_like(mask))
    if method.weighting == "normalized":
        scale = (running if running is not None else losses).clamp_min(1e-8)
        scale = torch.where(_NORMALISED[: len(losses)], scale, torch.ones_like(scale))
        return mask * alpha / scale
    a = alpha if method.weighting == "dynamic_alpha" else torch.ones_like(alpha)
    return dynamic_weights(losses * mask, a * mask)


def scheduled_lr(cfg: TrainConfig, progress: float) -> float:
    """Learning rate at ``progress`` (0 at the first step, 1 after the last) under ``cfg.lr_schedule``."""
    if cfg.lr_schedule == "cosine":
        return cfg.lr * 0.5 * (1.0 + math.cos(math.pi * progress))
    return cfg.lr


def _adam(model: torch.nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    # The fused CPU kernel does the whole update in one pass over the 7M parameters (about 20 % of a step
    # on 2 cores with the per-tensor loop); older torch builds lack it.
    try:
        return torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay, fused=True)
    except (RuntimeError, TypeError):
        return torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)


def _recon_loss(kind: str, recon: torch.Tensor, clean: torch.Tensor) -> torch.Tensor:
    if kind == "sse":
        return ((recon - clean) ** 2).sum(dim=1).mean()
    if kind == "bce":
        return F.binary_cross_entropy(recon, clean, reduction="none").sum(dim=1).mean()
    raise SercrossError(f"unknown reconstruction loss {kind!r}", hint="use 'sse' or 'bce'")


def _gradient_shares(
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


def _adapt_batch_norm(model: torch.nn.Module, X: torch.Tensor, batch_size: int) -> None:
    """AdaBN (Li et al. 2017): replace batch-norm running statistics by those of the unlabelled target."""
    bns = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm1d)]
    momenta = [m.momentum for m in bns]
    model.eval()  # dropout off
    for m in bns:
        m.reset_running_stats()
        m.momentum = None  # cumulative average over all target batches
        m.train()
    # Large chunks: the cumulative average weighs every chunk equally, so few chunks keep it close to the
    # exact target statistics (one chunk for corpora up to 8192 utterances).
    chunk = max(batch_size, 8192)
    with torch.no_grad():
        for i in range(0, len(X), chunk):
            if len(X[i : i + chunk]) > 1:
                model(X[i : i + chunk])
    for m, momentum in zip(bns, momenta):
        m.momentum = momentum
    model.eval()


def _index_stream(n: int, batch: int, steps: int, rng: np.random.Generator) -> np.ndarray:
    """``steps`` batches of indices into n samples, reshuffled each time all samples were seen."""
    need = steps * batch
    parts, have = [], 0
    while have < need:
        parts.append(rng.permutation(n))
        have += n
    return np.concatenate(parts)[:need].reshape(steps, batch)


@dataclass
class TLMLDA:
    """TLMLDA (or one of its ablations / Only_cls) as an estimator."""

    method: str = "tlmlda"
    config: TrainConfig = field(default_factory=TrainConfig)
    alpha: tuple[float, ...] = (1.0, 1.0, 1.0, 1.0, 1.0)
    random_state: int = 0

    def fit(
        self,
        Xs: np.ndarray,
        ys: np.ndarray,
        Xt: np.ndarray,
        n_classes: int | None = None,
        on_epoch: Callable[[int, dict], None] | None = None,
    ) -> TLMLDA:
        spec = get_method(self.method)
        if spec.kind != "network":
            raise SercrossError(f"method {self.method!r} is not a network method")
        cfg = spec.configure(self.config)
        _check_inputs(Xs, ys, Xt)
        if cfg.bn_mode not in ("separate", "joint"):
            raise SercrossError(f"unknown batch-norm mode {cfg.bn_mode!r}", hint="use 'separate' or 'joint'"
                                " (AdaBN is the separate option adabn=True)")
        if cfg.lr_schedule not in ("constant", "cosine"):
            raise SercrossError(f"unknown learning-rate schedule {cfg.lr_schedule!r}",
                                hint="use 'constant' or 'cosine'")
        torch.set_num_threads(cfg.threads or usable_cpus())
        torch.manual_seed(self.random_state)  # weight init
        gen = torch.Generator().manual_seed(self.random_state)  # input noise
        rng = np.random.default_rng(self.random_state)  # batch order

        self.n_classes_ = int(n_classes or int(ys.max()) + 1)
        self.n_features_in_ = Xs.shape[1]
        model = TLMLDANet(self.n_features_in_, self.n_classes_, cfg.encoder_sizes, cfg.dnn_sizes, cfg.dropout)
        model.set_dropout_rng(np.random.default_rng([self.random_state, 1]))  # dropout masks
        opt = _adam(model, cfg)
        xs_all, xt_all = torch.from_numpy(np.ascontiguousarray(Xs, np.float32)), torch.from_numpy(
            np.ascontiguousarray(Xt, np.float32)
        )
        ys_all = torch.from_numpy(np.asarray(ys, dtype=np.int64))
        ns, nt = len(xs_all), len(xt_all)
        bs_s, bs_t = min(cfg.batch_size, ns), min(cfg.batch_size, nt)
        steps = math.ceil(max(ns, nt) / cfg.batch_size)
        active = torch.tensor(spec.active)
        alpha = torch.tensor(tuple(self.alpha) + (1.0,) * (len(TERM_NAMES) - len(self.alpha)), dtype=torch.float32)
        idx = {n: i for i, n in enumerate(TERM_NAMES)}
        uses_target = any(spec.active[idx[n]] for n in TARGET_TERMS)
        uses_decoder = bool(spec.active[idx["L_S"]] or spec.active[idx["L_T"]])
        recorded = [n for n in TERM_NAMES if n in LOSS_NAMES or spec.active[idx[n]]]
        discriminator = None
        if spec.active[idx["ADV"]]:
            discriminator = DomainDiscriminator(cfg.dnn_sizes[-1])
            opt.add_param_group({"params": list(discriminator.parameters())})
        total_steps = cfg.epochs * steps
        prev_epoch_losses: torch.Tensor | None = None
        running: torch.Tensor | None = None  # running mean of each loss, for the "normalized" weighting
        self.history_ = []
        self.model_ = model
        for epoch in range(cfg.epochs):
            t0 = time.perf_counter()
            model.train()
            idx_s = _index_stream(ns, bs_s, steps, rng)
            idx_t = _index_stream(nt, bs_t, steps, rng)
            sums = torch.zeros(3, len(TERM_NAMES))  # rows: losses, weights, weighted losses
            correct = seen = 0
            shares = None
            for step in range(steps):
                progress = (epoch * steps + step) / total_steps
                r = ramp(progress) if cfg.ramp else 1.0
                if cfg.lr_schedule != "constant":
                    for group in opt.param_groups:
                        group["lr"] = scheduled_lr(cfg, progress)
                xs, yb = xs_all[idx_s[step]], ys_all[idx_s[step]]
                noisy_s = xs + cfg.noise_std * torch.randn(xs.shape, generator=gen)
                if uses_target:
                    xt = xt_all[idx_t[step]]
                    noisy_t = xt + cfg.noise_std * torch.randn(xt.shape, generator=gen)
                    both, n = torch.cat([noisy_s, noisy_t]), len(xs)
                    # One matmul per layer serves both domains. Batch-norm statistics: shared ("joint"), or
                    # per domain (n_first; the paper's reading, see README).
                    rec, feats, logits = model(both, reconstruct=uses_decoder,
                                               n_first=None if cfg.bn_mode == "joint" else n)
                    rec_s, rec_t = (rec[:n], rec[n:]) if rec is not None else (None, None)
                    fs, ft, logit_s, logit_t = feats[:n], feats[n:], logits[:n], logits[n:]
                else:
                    rec_s, fs, logit_s = model(noisy_s, reconstruct=uses_decoder)
                zero = logit_s.sum() * 0.0
                terms = [zero] * len(TERM_NAMES)
                terms[idx["L_y"]] = F.cross_entropy(logit_s, yb)
                if active[idx["L_S"]]:
                    terms[idx["L_S"]] = _recon_loss(cfg.recon_loss, rec_s, xs)
                if uses_target:
                    if active[idx["L_T"]]:
                        terms[idx["L_T"]] = _recon_loss(cfg.recon_loss, rec_t, xt)
                    if active[idx["MMD"]] or active[idx["LMMD"]]:
                        # One kernel matrix (all five bandwidths) serves both MMD and LMMD.
                        k = multi_gaussian_kernel(fs, ft, cfg.kernel_num, cfg.kernel_mul)
                    if active[idx["MMD"]]:
                        terms[idx["MMD"]] = mmd(fs, ft, kernel=k)
                    if active[idx["DIV"]] or active[idx["LMMD"]]:
                        probs_t = torch.softmax(logit_t, dim=1)
                    if active[idx["DIV"]]:
                        terms[idx["DIV"]] = diversity(probs_t)
                    if active[idx["LMMD"]]:
                        terms[idx["LMMD"]] = lmmd(fs, ft, yb, probs_t, self.n_classes_, kernel=k,
                                                  threshold=cfg.pseudo_threshold)
                    if active[idx["CORAL"]]:
                        terms[idx["CORAL"]] = coral(fs, ft)
                    if discriminator is not None:
                        # The reversed gradient carries the ramp; the loss itself enters with weight lambda.
                        dom = discriminator(torch.cat([fs, ft]), cfg.adapt_weight * r)
                        labels = torch.cat([torch.ones(len(fs)), torch.zeros(len(ft))])
                        terms[idx["ADV"]] = F.binary_cross_entropy_with_logits(dom, labels)
                losses = torch.stack(terms)
                values = losses.detach()
                running = values.clone() if running is None else (
                    cfg.norm_momentum * running + (1 - cfg.norm_momentum) * values
                )
                basis = prev_epoch_losses if (cfg.weight_update == "epoch" and prev_epoch_losses is not None) \
                    else values
                w = combine_weights(spec, alpha, basis, active, cfg, running)
                if cfg.ramp:
                    w = torch.where(_ADAPTATION, w * r, w)
                if discriminator is not None:
                    w[idx["ADV"]] = 1.0  # DANN scales the reversed gradient instead of the loss
                total = (w * losses).sum()
                if not torch.isfinite(total):
                    parts = ", ".join(f"{n}={float(v):.4g}" for n, v in zip(TERM_NAMES, values) if n in recorded)
                    raise SercrossError(
                        f"training diverged at epoch {epoch + 1}, step {step + 1}: the loss is "
                        f"{float(total.detach())} ({parts})",
                        hint="lower the learning rate (--lr) and check the features for extreme values",
                    )
                if step == 0 and cfg.grad_share_every and (
                    (epoch + 1) % cfg.grad_share_every == 0 or epoch + 1 == cfg.epochs
                ):
                    shares = _gradient_shares(model, w, losses, active)
                opt.zero_grad(set_to_none=True)
                total.backward()
                opt.step()
                sums += torch.stack([values, w, w * values])
                correct += int((logit_s.detach().argmax(1) == yb).sum())
                seen += len(yb)
            means = sums / steps
            prev_epoch_losses = means[0]
            row = {"epoch": epoch + 1}
            for kind, k in (("loss", 0), ("weight", 1), ("effective", 2)):
                row.update({f"{kind}_{n}": float(means[k, idx[n]]) for n in recorded})
            row["loss_total"] = float(means[2].sum())
            for n in recorded:
                row[f"grad_share_{n}"] = None if shares is None else float(shares[idx[n]])
            row["source_train_acc"] = correct / max(seen, 1)
            row["seconds"] = time.perf_counter() - t0
            if on_epoch is not None:
                on_epoch(epoch + 1, row)  # may add monitoring columns to row
            self.history_.append(row)
        if cfg.adabn:
            _adapt_batch_norm(model, xt_all, cfg.batch_size)
        model.set_dropout_rng(None)
        model.eval()
        return self

    def _forward(self, X: np.ndarray, what: str) -> np.ndarray:
        model = self.model_
        model.eval()
        out = []
        with torch.inference_mode():
            for i in range(0, len(X), 1024):
                xb = torch.from_numpy(np.ascontiguousarray(X[i : i + 1024], np.float32))
                _, feats, logits = model(xb, reconstruct=False)
                out.append({"features": feats, "logits": logits, "proba": torch.softmax(logits, 1)}[what].numpy())
        return np.concatenate(out) if out else np.zeros((0, 0), np.float32)

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        return self._forward(X, "proba")

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self.predict_proba(X).argmax(axis=1)

    def transform(self, X: np.ndarray) -> np.ndarray:
        """The learned 256-d emotion features (input of the classifier)."""
        return self._forward(X, "features")


def _check_inputs(Xs: np.ndarray, ys: np.ndarray, Xt: np.ndarray) -> None:
    for name, X in (("source", Xs), ("target", Xt)):
        if X.ndim != 2 or len(X) == 0:
            raise SercrossError(f"{name} features must be a non-empty 2-D matrix, got shape {X.shape}")
        if not np.isfinite(X).all():
            raise SercrossError(
                f"{name} features contain NaN or inf values",
                hint="re-extract the corpus; files with non-finite features are left out by `sercross extract`",
            )
    if Xs.shape[1] != Xt.shape[1]:
        raise SercrossError(f"source has {Xs.shape[1]} features but target has {Xt.shape[1]}")
    if len(Xs) < 2 or len(Xt) < 2:
        raise SercrossError("need at least two source and two target utterances (batch-norm needs pairs)")
    if len(ys) != len(Xs):
        raise SercrossError(f"{len(ys)} source labels for {len(Xs)} source utterances")
    if len(np.unique(ys)) < 2:
        raise SercrossError("the source has a single class", hint="a classifier needs at least two classes")
