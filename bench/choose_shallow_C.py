"""How the shallow methods' logistic regression got its C: cross-validation *within* each development corpus.

For each corpus (its own labels only, never a cross-corpus target's) and each input normalisation (per corpus,
per speaker), a standardised logistic regression is scored by speaker-grouped k-fold UAR (k = min(5, speakers))
for each C; C is the value with the best mean over corpora and normalisations. Writes the table as Markdown.

    python bench/choose_shallow_C.py --cache CACHE --corpora berlin,casia,emovo,ravdess \
        --out bench/shallow_classifier_C.md
"""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sercross.experiments.pairs import minmax_scale, speaker_normalize
from sercross.features import load_features
from sercross.methods import ShallowSettings

CS = (0.001, 0.003, 0.01, 0.03, 0.1, 1.0)


def grouped_uar(X: np.ndarray, y: np.ndarray, groups: np.ndarray, C: float, max_iter: int) -> float:
    model = make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=max_iter))
    folds = GroupKFold(min(5, len(set(groups))))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(cross_val_score(model, X, y, groups=groups, cv=folds, scoring="balanced_accuracy").mean())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cache", type=Path, required=True)
    ap.add_argument("--corpora", default="berlin,casia,emovo,ravdess")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    max_iter = ShallowSettings().max_iter
    rows = []
    for corpus in args.corpora.split(","):
        t = load_features(args.cache, corpus, "IS10")
        y = np.unique(t.emotions, return_inverse=True)[1]
        g = np.array([u.speaker for u in t.utterances])
        for norm in ("corpus", "speaker"):
            X = minmax_scale(t.X) if norm == "corpus" else speaker_normalize(minmax_scale(t.X), g)
            rows.append((corpus, norm, [grouped_uar(X, y, g, C, max_iter) for C in CS]))
            print(corpus, norm, " ".join(f"{100 * v:.1f}" for v in rows[-1][2]), flush=True)
    mean = np.mean([r[2] for r in rows], axis=0)
    best = CS[int(np.argmax(mean))]
    lines = ["# The shallow methods' C, chosen within the development corpora", "",
             "Speaker-grouped k-fold UAR (%, k = min(5, speakers)) of a standardised logistic regression trained and "
             "scored within each corpus on all its classes (that corpus's own labels; no cross-corpus target is "
             "involved), made by `python bench/choose_shallow_C.py --cache CACHE --corpora "
             f"{args.corpora} --out bench/shallow_classifier_C.md`.", "",
             "| corpus | inputs | " + " | ".join(f"C = {C:g}" for C in CS) + " |", "|---|---|" + "---|" * len(CS)]
    lines += [f"| {c} | {n} | " + " | ".join(f"{100 * v:.1f}" for v in vals) + " |" for c, n, vals in rows]
    lines += ["| **mean** | | " + " | ".join(f"{100 * v:.2f}" for v in mean) + " |", "",
              f"Chosen: C = {best:g} (best mean). `ShallowSettings.C` is {ShallowSettings().C:g}."]
    text = "\n".join(lines) + "\n"
    if args.out:
        args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
