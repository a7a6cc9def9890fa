"""How features are scaled before a method sees them: min-max per corpus, and speaker normalisation.

Scaling choice: each corpus is scaled to [0, 1] with its own per-feature minimum and maximum, computed on that
corpus's utterances of the selected classes (the target's without its labels). Columns that are constant within a
corpus become 0. The minimum and maximum are kept with a pair, so that new recordings of its target are scaled as
its utterances were (:func:`apply_minmax`).
"""

from __future__ import annotations

import numpy as np


def minmax_params(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(minimum, maximum) of each column, in float64."""
    X = np.asarray(X, dtype=np.float64)
    return X.min(axis=0), X.max(axis=0)


def apply_minmax(X: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """``X`` scaled with the given column minima and maxima (as :func:`minmax_scale` scales the data they came
    from); columns constant there become 0. Values of new data may fall outside [0, 1]."""
    X = np.asarray(X, dtype=np.float64)
    span = hi - lo
    out = np.zeros_like(X)
    ok = span > 0
    out[:, ok] = (X[:, ok] - lo[ok]) / span[ok]
    return out.astype(np.float32)


def minmax_scale(X: np.ndarray) -> np.ndarray:
    """Scale each column to [0, 1]; constant columns become 0."""
    return apply_minmax(X, *minmax_params(X))


def speaker_standardize(X: np.ndarray, speakers: list[str] | np.ndarray) -> np.ndarray:
    """Every feature standardised within each speaker (utterances without a speaker, "", form one group)."""
    X = np.asarray(X, dtype=np.float64)
    speakers = np.asarray(speakers)
    if len(speakers) != len(X):
        raise ValueError(f"{len(speakers)} speakers for {len(X)} utterances")
    out = np.empty_like(X)
    for spk in np.unique(speakers):
        rows = speakers == spk
        mean, std = X[rows].mean(axis=0), X[rows].std(axis=0)
        out[rows] = (X[rows] - mean) / np.where(std > 0, std, 1.0)
    return out


def speaker_normalize(X: np.ndarray, speakers: list[str] | np.ndarray) -> np.ndarray:
    """Standardise every feature within each speaker, then min-max scale the corpus to [0, 1].

    Speaker normalisation removes what is constant about a voice (pitch range, loudness, vocal tract)
    before a classifier sees it. It is a standard strategy of cross-corpus emotion recognition (among the
    normalisations Schuller et al., IEEE Trans. Affective Computing 1(2), 2010, studied over six corpora; the
    first stage of Kaya and Karpov's cascade, Neurocomputing 275, 2018). It needs no emotion label, only
    which utterances share a speaker. Utterances without a speaker ("") form one group, so a corpus without
    speaker information gets the plain per-corpus scaling. Standardising is unchanged by a per-corpus
    affine scaling done before it, so it can be applied to a pair's [0, 1] features directly.
    """
    return minmax_scale(speaker_standardize(X, speakers))
