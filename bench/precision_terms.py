"""What bf16 does to each loss term, measured: the same network, batch, noise and dropout masks, computed three ways.

- fp32: everything in fp32 (the reference).
- mixed: what ``--precision bf16`` does: the auto-encoder under bf16 autocast, the DNN and classifier in fp32, every
  loss term on fp32 copies of the network's outputs.
- mixed, DNN in bf16: the same with the DNN and classifier in bf16 too (why they are kept in fp32).
- naive: the whole network *and* the loss terms under bf16 autocast (autocast around the whole step), where the MMD
  kernel's matmul, its exponentials and the softmax behind LMMD's class weights run in bf16.

For each term: its value in fp32 and the relative error |x - x_fp32| / |x_fp32| of the two bf16 ways (median and
maximum over batches); then the gradient of the weighted total on every parameter (relative L2 error, cosine), and
the batch-norm statistics of each layer computed from the same bf16 input in bf16 and in fp32 (which isolates the
precision of the statistics from the rounding of their input). Measured at initialisation and after training in
fp32 (the MMD terms are then orders of magnitude smaller).

On a CPU without native bf16, ``--emulate-matmuls`` computes the bf16 matmuls with bench/bf16_emulation.py (fp32
matmuls of the bf16 values, rounded to bf16: bf16's rounding at fp32's speed; the report says so).

Usage:
  python bench/precision_terms.py --cache CACHE --scheme berlin:casia --batches 8 [--emulate-matmuls] \
      --out bench/precision_terms.md
"""

from __future__ import annotations

import argparse
import copy
import sys
from contextlib import nullcontext
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np
import torch
from bf16_emulation import Bf16MatmulsInFp32

from sercross.experiments import corpus_name, load_pair, split_scheme
from sercross.methods import TERM_NAMES, alpha_for, get_method, get_preset, native_bf16
from sercross.methods.precision import as_fp32, forward_precision
from sercross.methods.terms import Step, compute_terms
from sercross.methods.training import Trainer, index_stream

# way -> (DNN and classifier in fp32, loss terms under autocast)
WAYS = {"mixed": (True, False), "mixed, DNN in bf16": (False, False), "naive": (False, True)}


def _outputs(trainer: Trainer, noisy: torch.Tensor, n: int, way: str):
    """The network on the stacked noisy batch, with every term computed the given way."""
    head_fp32, terms_in_autocast = WAYS.get(way, (True, False))
    trainer.model.head_fp32 = head_fp32
    with forward_precision("fp32" if way == "fp32" else "bf16"):
        rec, feats, logits = trainer.model(noisy, reconstruct=True, n_first=n)
        if terms_in_autocast:
            return rec, feats, logits, _terms(trainer, rec, feats, logits, n)
    rec, feats, logits = as_fp32(rec, feats, logits)
    return rec, feats, logits, _terms(trainer, rec, feats, logits, n)


def _terms(trainer: Trainer, rec, feats, logits, n: int) -> torch.Tensor:
    b = trainer._batch
    step = Step(config=trainer.cfg, n_classes=trainer.n_classes, xs=b["xs"], ys=b["ys"], fs=feats[:n], ft=feats[n:],
                logit_s=logits[:n], logit_t=logits[n:], rec_s=rec[:n], rec_t=rec[n:], xt=b["xt"])
    return compute_terms(step, trainer.active)


def _bn_stats(model: torch.nn.Module, noisy: torch.Tensor, n: int) -> list[float]:
    """Per batch-norm layer: the largest relative error of the batch mean and variance computed in bf16 from the
    layer's bf16 input, against the same statistics computed in fp32 from that same input."""
    inputs: list[torch.Tensor] = []
    hooks = [m.register_forward_hook(lambda m, i, o: inputs.append(i[0].detach()))
             for m in model.modules() if isinstance(m, torch.nn.BatchNorm1d)]
    with torch.no_grad(), forward_precision("bf16"):
        model(noisy, reconstruct=True, n_first=n)
    for h in hooks:
        h.remove()
    errors = []
    for x in inputs:
        stats = {}
        for name, xx in (("bf16", x), ("fp32", x.float())):
            rm, rv = torch.zeros(x.shape[1]), torch.ones(x.shape[1])
            torch.batch_norm(xx, None, None, rm, rv, True, 1.0, 1e-5, False)  # momentum 1: running = batch stats
            stats[name] = (rm, rv)
        rel = [float(((a - b).abs() / b.abs().clamp_min(1e-12)).max())
               for a, b in zip(stats["bf16"], stats["fp32"])]
        errors.append(max(rel))
    return errors


def _grad(value: torch.Tensor, params: list) -> torch.Tensor:
    g = torch.autograd.grad(value, params, retain_graph=True, allow_unused=True)
    return torch.cat([(x if x is not None else torch.zeros_like(p)).reshape(-1).double() for x, p in zip(g, params)])


def _bf16_sum_error(rec: torch.Tensor, clean: torch.Tensor) -> float:
    """Relative error of the summed squared reconstruction error when the subtraction and the sum over the
    features run in bf16 (inputs cast to bf16), against fp32 on the same reconstruction."""
    rec = rec.detach()
    ref = ((rec.float() - clean) ** 2).sum(dim=1).mean()
    low = ((rec.bfloat16() - clean.bfloat16()) ** 2).sum(dim=1).mean()
    return float((low.float() - ref).abs() / ref)


def measure(trainer: Trainer, batches: int, seed: int, names: list[str]) -> dict:
    """Relative errors of each term, of its gradient and of batch-norm statistics over ``batches`` batches."""
    rng = np.random.default_rng(seed)
    gen = torch.Generator().manual_seed(seed)
    model = trainer.model
    params = [p for p in model.parameters() if p.requires_grad]
    idx = [TERM_NAMES.index(n) for n in names]
    rel = {w: [] for w in WAYS}
    grads = {w: [] for w in WAYS}  # per batch: relative L2 error of each term's gradient, then of the total's
    values, bn, sums = [], [], []
    state = copy.deepcopy(model.state_dict())
    bs = trainer.cfg.batch_size
    for _ in range(batches):
        i_s = index_stream(len(trainer.xs), bs, 1, rng)[0]
        i_t = index_stream(len(trainer.xt), bs, 1, rng)[0]
        xs, xt = trainer.xs[i_s], trainer.xt[i_t]
        trainer._batch = {"xs": xs, "xt": xt, "ys": trainer.ys[i_s]}
        noisy = torch.cat([xs, xt]) + trainer.cfg.noise_std * torch.randn((2 * bs, xs.shape[1]), generator=gen)
        mask_seed = int(rng.integers(1 << 31))
        out = {}
        for way in ("fp32", *WAYS):
            model.load_state_dict(state)  # the same running statistics before each way
            model.set_dropout_rng(np.random.default_rng(mask_seed))  # the same dropout masks
            rec, _, _, losses = _outputs(trainer, noisy, bs, way)
            if way == "mixed":
                sums.append(_bf16_sum_error(rec[:bs], xs))
            w = trainer.weights(losses.detach().float(), 1.0)
            total = (w * losses.float()).sum()
            out[way] = (losses.detach().float(), [_grad(losses[i], params) for i in idx] + [_grad(total, params)])
        ref, gref = out["fp32"]
        values.append(ref)
        for way in WAYS:
            v, gw = out[way]
            rel[way].append((v - ref).abs() / ref.abs().clamp_min(1e-30))
            grads[way].append([float((a - b).norm() / b.norm().clamp_min(1e-300)) for a, b in zip(gw, gref)])
        model.load_state_dict(state)
        bn.append(_bn_stats(model, noisy, bs))
    model.load_state_dict(state)
    del model.head_fp32  # back to the class's setting
    return {"values": torch.stack(values), "rel": {w: torch.stack(r) for w, r in rel.items()},
            "grads": {w: np.array(g) for w, g in grads.items()}, "bn": np.array(bn), "sums": np.array(sums)}


def _fmt(x: float) -> str:
    return f"{x:.1e}" if x != 0 else "0"


def report(title: str, m: dict, names: list[str]) -> list[str]:
    idx = [TERM_NAMES.index(n) for n in names]
    head = "".join(f" {w}: value | {w}: gradient |" for w in WAYS)
    out = [f"### {title}", "", "Relative errors against fp32, median / max over the batches.", "",
           f"| term | value in fp32 (median) |{head}", "|---|---|" + "---|---|" * len(WAYS)]
    rows = [(n, i, k) for k, (n, i) in enumerate(zip(names, idx))] + [("weighted total (eq. 5)", None, len(idx))]
    for n, i, k in rows:
        cells = [f"{float(m['values'][:, i].median()):.4g}" if i is not None else ""]
        for w in WAYS:
            cells.append("" if i is None else
                         f"{_fmt(float(m['rel'][w][:, i].median()))} / {_fmt(float(m['rel'][w][:, i].max()))}")
            g = m["grads"][w][:, k]
            cells.append(f"{_fmt(float(np.median(g)))} / {_fmt(float(g.max()))}")
        out.append(f"| {n} | " + " | ".join(cells) + " |")
    out += ["", f"- Batch-norm statistics (mean and variance of each of the {m['bn'].shape[1]} batch-norm layers) "
            "computed in bf16 from a bf16 input, against fp32 from that same input: largest relative error "
            f"{_fmt(float(m['bn'].max()))} (torch accumulates them in fp32 and keeps the running statistics in fp32).",
            "- The squared reconstruction error summed over the 1582 features with the subtraction and the sum in "
            f"bf16: relative error median {_fmt(float(np.median(m['sums'])))}, max {_fmt(float(m['sums'].max()))} "
            "(autocast does not do this: the clean input is fp32, so the difference is promoted to fp32).", ""]
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cache", type=Path, required=True)
    ap.add_argument("--scheme", default="berlin:casia")
    ap.add_argument("--preset", default="paper", help="network and loss settings (and the training below)")
    ap.add_argument("--train-epochs", type=int, default=20, help="fp32 epochs of the fast preset before the "
                    "second measurement")
    ap.add_argument("--batches", type=int, default=8)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--emulate-matmuls", action="store_true",
                    help="bf16 matmuls as fp32 matmuls of bf16 values (for a CPU without native bf16)")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    emulate = " --emulate-matmuls" if args.emulate_matmuls else ""
    source, target = split_scheme(args.scheme)
    pair = load_pair(args.cache, corpus_name(source), corpus_name(target), "IS10")
    spec = get_method("tlmlda")
    names = [n for n in TERM_NAMES if spec.uses(n)]
    alpha = alpha_for(pair.source, pair.target)
    lines = [f"# bf16 and the loss terms: relative errors against fp32 ({pair.source}→{pair.target}, tlmlda)", "",
             f"Made by `python bench/precision_terms.py --cache CACHE --scheme {args.scheme} --preset {args.preset} "
             f"--train-epochs {args.train_epochs} --batches {args.batches} --seed {args.seed}{emulate}` (torch "
             f"{torch.__version__}). {args.batches} batches of {get_preset(args.preset).batch_size}+"
             f"{get_preset(args.preset).batch_size} utterances; each way sees the same weights, inputs, noise and "
             "dropout masks. *mixed* is what `--precision bf16` does (DNN and classifier in fp32); *mixed, DNN in "
             "bf16* runs them in bf16 too; *naive* puts the whole network and the loss terms under autocast. "
             f"Measured here: {native_bf16().reason}" + (
                 "; every bf16 matmul computed as an fp32 matmul of the bf16 values, rounded to bf16 "
                 "(`--emulate-matmuls`, bench/bf16_emulation.py)" if emulate else "")
             + ". Rounding to bf16 is the same on every CPU; native kernels only sum the fp32 products in another "
             "order, so errors of this size are expected on any CPU.", ""]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(args.seed)
        cfg = get_preset(args.preset, monitor_target=False, grad_share_every=0, threads=1)
        trainer = Trainer(spec, cfg, alpha, len(pair.classes), args.seed, pair.Xs, pair.ys, pair.Xt)
        with Bf16MatmulsInFp32() if emulate else nullcontext():
            lines += report("at initialisation", measure(trainer, args.batches, args.seed, names), names)
        fast = get_preset("fast", epochs=args.train_epochs, monitor_target=False, grad_share_every=0, threads=1)
        trained = Trainer(spec, fast, alpha, len(pair.classes), args.seed, pair.Xs, pair.ys, pair.Xt)
        trained.run()
        trained.model.set_dropout_rng(None)
        trained.model.train()
        trainer.model = trained.model
        with Bf16MatmulsInFp32() if emulate else nullcontext():
            lines += report(f"after {args.train_epochs} fp32 epochs of the fast preset",
                            measure(trainer, args.batches, args.seed, names), names)
    text = "\n".join(lines)
    print(text)
    if args.out:
        args.out.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
