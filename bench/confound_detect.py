"""Can the speaker-class confounding of a *target* be told without its labels? Label-free estimates against the truth.

``auto`` leaves the speaker-normalised candidates out when the pair's speaker-class confounding is high. On the
source it is read from the labels; on the target it must be estimated. This script compares estimates on many
targets whose true confounding is known (for evaluation only): the four development corpora and variants of them
derived as bench/confound.py does (``k`` emotions kept per speaker, several plans), each against every other
corpus as source. No network is trained: the estimates read features (and source labels) only.

Estimates (none reads a target label):

- ``omega``: the share of the target's variance that lies between speakers, along the source's emotion directions
  (linear discriminants of the source's labels on its speaker-standardised features, so they are directions in
  which emotion varies within a speaker), bias-corrected for the number of speakers (omega squared, averaged over
  the directions). Where every speaker shows every emotion, emotion varies within speakers and the share is that of
  voice alone; where a speaker shows one emotion, the emotion moves to between speakers.
- ``omega_ratio``: the same divided by the source's own value (the share voice alone takes on an acted corpus).
- ``omega_self``: ``omega`` divided by the target's share between speakers along its own 20 leading principal
  components (how much the corpus's speakers differ in general).

    python bench/confound_detect.py --cache CACHE --runs --out bench/confound_detect.md
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import numpy as np
from confound import confound_rows, shared_classes

from sercross.experiments.pairs import build_pair
from sercross.experiments.scaling import speaker_standardize
from sercross.features import load_features
from sercross.selection import speaker_normalised
from sercross.selection.confounding import speaker_class_nmi

BASE = ("berlin", "casia", "emovo", "ravdess")


def omega_squared(Z: np.ndarray, groups: np.ndarray) -> float:
    """Mean over the columns of Z of the bias-corrected between-group share of variance (omega squared)."""
    labels, inv = np.unique(groups, return_inverse=True)
    k, n = len(labels), len(Z)
    if k < 2 or n <= k:
        return float("nan")
    counts = np.bincount(inv, minlength=k)
    out = []
    for z in Z.T:
        mean = z.mean()
        means = np.bincount(inv, weights=z, minlength=k) / counts
        ssb = float((counts * (means - mean) ** 2).sum())
        sst = float(((z - mean) ** 2).sum())
        msw = (sst - ssb) / (n - k)
        out.append((ssb - (k - 1) * msw) / (sst + msw) if sst > 0 else 0.0)
    return float(np.mean(out))


def zscore(X: np.ndarray) -> np.ndarray:
    """Every feature standardised over the corpus (speaker_standardize with a single group)."""
    return speaker_standardize(X, np.zeros(len(X), dtype=int))


def emotion_directions(Xs: np.ndarray, ys: np.ndarray, speakers) -> object:
    """Linear discriminants of the source labels on its speaker-standardised features (shrinkage LDA)."""
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

    return LinearDiscriminantAnalysis(solver="eigen", shrinkage="auto").fit(speaker_standardize(Xs, speakers), ys)


def generic_omega(X: np.ndarray, speakers, n: int = 20) -> float:
    """omega squared of speakers along the ``n`` leading principal components of X (z-scored): the share voice takes
    in the directions where the corpus varies most, whatever they carry."""
    from sklearn.decomposition import PCA

    return omega_squared(PCA(n_components=n, random_state=0).fit_transform(zscore(X)), np.asarray(speakers))


def estimates(pair, lda) -> dict[str, float]:
    z_t = lda.transform(zscore(pair.Xt))
    z_s = lda.transform(zscore(pair.Xs))
    om_t = omega_squared(z_t, np.asarray(pair.target_speakers))
    om_s = omega_squared(z_s, np.asarray(pair.source_speakers))
    gen_t = generic_omega(pair.Xt, pair.target_speakers)
    return {"omega": om_t, "omega_source": om_s, "omega_ratio": om_t / om_s if om_s > 0 else float("nan"),
            "omega_generic": gen_t, "omega_self": om_t / gen_t if gen_t > 0 else float("nan")}


def confounded(table, classes: list[str], k: int, seed: int):
    """A subset of ``table``: each speaker keeps ``k`` of ``classes`` (bench/confound.py's plan, with ``seed``)."""
    _, keep = confound_rows(table, classes, k, seed)
    return dataclasses.replace(table, corpus=f"{table.corpus}_conf{k}s{seed}", X=table.X[keep],
                               utterances=[table.utterances[i] for i in keep])


def targets(tables: dict, plans: list[tuple[str, int, int]]) -> list:
    out = [tables[c] for c in BASE]
    for corpus, k, seed in plans:
        classes = shared_classes(tables[corpus], [tables[o] for o in BASE if o != corpus])
        out.append(confounded(tables[corpus], classes, k, seed))
    return out


PLANS = [("ravdess", 1, 0), ("ravdess", 1, 1), ("ravdess", 2, 0), ("ravdess", 2, 1), ("ravdess", 3, 0),
         ("berlin", 1, 0), ("berlin", 2, 0), ("berlin", 2, 1), ("berlin", 3, 0),
         ("emovo", 2, 0), ("emovo", 3, 0), ("casia", 2, 0), ("casia", 3, 0)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cache", type=Path, required=True)
    ap.add_argument("--out", type=Path)
    ap.add_argument("--runs", action="store_true", help="add the estimates from auto's candidate runs (seed 0)")
    args = ap.parse_args()
    tables = {c: load_features(args.cache, c, "IS10") for c in BASE}
    rows, ldas = [], {}
    for tgt in targets(tables, PLANS):
        base = tgt.corpus.split("_conf")[0]
        for src in BASE:
            if src == base:
                continue
            pair = build_pair(tables[src], tgt)
            key = (src, pair.classes)
            if key not in ldas:  # the directions depend on the source and the class set only
                ldas[key] = emotion_directions(pair.Xs, pair.ys, pair.source_speakers)
            truth = speaker_class_nmi(pair.target_speakers, pair.yt)  # evaluation only
            rows.append({"source": src, "target": tgt.corpus, "classes": len(pair.classes), "n_t": len(pair.yt),
                         "true_nmi": truth, **estimates(pair, ldas[key])})
            print(f"{src:8s} → {tgt.corpus:16s} true NMI {truth:.3f}  " +
                  "  ".join(f"{k} {v:.3f}" for k, v in rows[-1].items() if k.startswith("omega")), flush=True)
    if args.out:
        lines = ["| source | target | classes | target utterances | true NMI (labels) | omega | omega source | ratio "
                 "| self |",
                 "|---|---|---|---|---|---|---|---|---|"]
        lines += [f"| {r['source']} | {r['target']} | {r['classes']} | {r['n_t']} | {r['true_nmi']:.3f} | "
                  f"{r['omega']:.3f} | {r['omega_source']:.3f} | {r['omega_ratio']:.2f} | {r['omega_self']:.2f} |"
                  for r in rows]
        head = "# " + __doc__.split("\n\n")[0].replace("\n", " ")
        runs = " --runs" if args.runs else ""
        made = f"Made by `python bench/confound_detect.py --cache CACHE{runs} --out {args.out}`."
        parts = [head, made, separation(rows), "\n".join(lines)]
        if args.runs:
            parts.append(from_predictions(args.cache))
        args.out.write_text("\n\n".join(parts) + "\n")


# Each plain candidate and its speaker-normalised twin.
TWINS = [("logreg", "logreg_spk"), ("sk_coral", "sk_coral_spk"), ("sk_subspace", "sk_subspace_spk"),
         ("sk_linear_ot", "sk_linear_ot_spk"), ("sk_kmm", "sk_kmm_spk"), ("sk_ot_prop", "sk_ot_prop_spk"),
         ("only_cls", "only_cls_spk"), ("tlmlda_plus_no_spk", "tlmlda_plus")]


def from_predictions(cache: Path) -> str:
    """On the 24 development pairs (seed 0 runs of auto's candidates): the target estimate auto uses (NMI of speaker
    and the plain candidates' vote) and the agreement of each plain candidate with its speaker-normalised twin
    (Cohen's kappa of their target predictions, mean over the twins) relative to the plain candidates' agreement
    among themselves. Where speaker normalisation removes the emotion, on either side, the twins stop agreeing."""
    from selection_loco import CANDIDATES, default_schemes, load_cases
    from sklearn.metrics import cohen_kappa_score as kappa

    cases, _ = load_cases(cache, default_schemes(), [0], list(CANDIDATES), "fast")
    spk = speaker_normalised(list(CANDIDATES))
    plain = [m for m in CANDIDATES if m not in spk]
    lines = ["## Estimates from the candidates' target predictions (24 development pairs, seed 0)", "",
             "| pair | NMI source (labels) | NMI target (labels, evaluation only) | NMI target (vote; auto's) | "
             "twin agreement / plain agreement | WAR gain of speaker normalisation (twins' mean) |",
             "|---|---|---|---|---|---|"]
    for c in cases:
        p = c.predictions
        twins = np.mean([kappa(p[a], p[b]) for a, b in TWINS])
        among = np.mean([kappa(p[a], p[b]) for i, a in enumerate(plain) for b in plain[i + 1:]])
        gain = np.mean([c.war[b] - c.war[a] for a, b in TWINS])
        truth = _true_nmi(cache, c)
        lines.append(f"| {c.name} | {c.confounding['source']:.2f} | {truth:.2f} | {c.confounding['target']:.2f} | "
                     f"{twins / among:.2f} | {gain:+.2f} |")
    return "\n".join(lines)


def _true_nmi(cache: Path, case) -> float:
    """The target's speaker-class NMI from its labels (evaluation only)."""
    from sercross.experiments import load_pair

    pair = load_pair(cache, case.source, case.target, "IS10")
    return speaker_class_nmi(pair.target_speakers, pair.yt)


def separation(rows: list[dict]) -> str:
    """How well each estimate tells confounded targets (true NMI > 0.45: one or two emotions per speaker) from the
    acted ones (true NMI < 0.05): the AUC, and the ranges of both groups."""
    from sklearn.metrics import roc_auc_score

    conf = [r for r in rows if r["true_nmi"] > 0.45]
    acted = [r for r in rows if r["true_nmi"] < 0.05]
    out = [f"Confounded targets (true NMI > 0.45): {len(conf)} pairs; acted targets (true NMI < 0.05): {len(acted)}.",
           "", "| estimate | AUC | acted: range | confounded: range |", "|---|---|---|---|"]
    for key in ("omega", "omega_ratio", "omega_self"):
        a, c = [r[key] for r in acted], [r[key] for r in conf]
        auc = roc_auc_score([0] * len(a) + [1] * len(c), a + c)
        out.append(f"| {key} | {auc:.3f} | {min(a):.3f}–{max(a):.3f} | {min(c):.3f}–{max(c):.3f} |")
    return "\n".join(out)


if __name__ == "__main__":
    main()
