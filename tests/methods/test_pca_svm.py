"""PCA + SVM's grid search makes the same choices as the hand-written search it replaced."""

import warnings

import numpy as np
import pytest
from sklearn.decomposition import PCA
from sklearn.model_selection import GroupKFold, StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.svm import LinearSVC

from sercross.methods.metrics import uar
from sercross.methods.pca_svm import PCASVM


def hand_written_search(Xs, ys, groups, Cs=(0.001, 0.01, 0.1, 1.0, 10.0), variances=(0.9, 0.95, 0.99),
                        max_folds=10, random_state=0):
    """The search of sercross 0.1.0, kept here only as the reference."""

    def make(variance, C):
        return make_pipeline(PCA(n_components=variance, svd_solver="full", random_state=random_state),
                             LinearSVC(C=C, max_iter=20000, random_state=random_state))

    if groups is not None and len(np.unique(groups)) >= 2:
        splits = list(GroupKFold(n_splits=min(max_folds, len(np.unique(groups)))).split(Xs, ys, groups))
    else:
        k = max(2, min(5, int(np.bincount(ys).min())))
        splits = list(StratifiedKFold(n_splits=k, shuffle=True, random_state=random_state).split(Xs, ys))
    n_classes = int(ys.max()) + 1
    results = []
    for v in variances:
        for C in Cs:
            scores = []
            for tr, va in splits:
                if len(np.unique(ys[tr])) < 2:
                    continue
                model = make(v, C).fit(Xs[tr], ys[tr])
                scores.append(uar(ys[va], model.predict(Xs[va]), n_classes))
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # the mean of no score
                results.append({"pca_variance": v, "C": C, "source_cv_uar": float(np.nanmean(scores))})
    best = max(results, key=lambda r: (r["source_cv_uar"], -r["C"], -r["pca_variance"]))
    chosen = {"pca_variance": best["pca_variance"], "C": best["C"]}
    return results, chosen, make(best["pca_variance"], best["C"]).fit(Xs, ys)


def data_set(kind: str, rng):
    n, d = 90, 12
    ys = rng.integers(0, 3, n)
    centres = rng.normal(size=(3, d))
    Xs = centres[ys] + rng.normal(scale={"separable": 0.05}.get(kind, 1.5), size=(n, d))
    groups = np.array([f"spk{i % 6}" for i in range(n)])
    if kind == "no_speakers":
        groups = None
    elif kind == "one_speaker":
        groups = np.array(["spk"] * n)
    elif kind == "one_class_speaker":  # one speaker's utterances all of class 0: its training fold is one class
        groups = np.where(ys == 0, "solo", np.array([f"spk{i % 2}" for i in range(n)]))
        groups[:2] = "spk0"
        ys[:2] = [1, 2]
    elif kind == "two_one_class_speakers":  # no fold can be fitted: every candidate ties
        ys = np.arange(n) % 2
        groups = np.where(ys == 0, "a", "b")
    return Xs, ys, groups


KINDS = ["speakers", "no_speakers", "one_speaker", "separable", "one_class_speaker", "two_one_class_speakers"]
CASES = [pytest.param(kind, seed, marks=() if (kind, seed) == ("speakers", 0) else pytest.mark.slow)
         for seed in (0, 1) for kind in KINDS]


@pytest.mark.parametrize("kind, seed", CASES)
def test_grid_search_makes_the_hand_written_search_s_choices(kind, seed):
    Xs, ys, groups = data_set(kind, np.random.default_rng(seed))
    results, chosen, model = hand_written_search(Xs, ys, groups, random_state=seed)
    est = PCASVM(random_state=seed).fit(Xs, ys, groups)
    assert est.best_params_ == chosen
    assert est.cv_results_ == results or (kind == "two_one_class_speakers" and all(
        np.isnan(r["source_cv_uar"]) for r in est.cv_results_ + results))
    assert np.array_equal(est.predict(Xs), model.predict(Xs))
    assert est.n_components_ == model[0].n_components_
    if kind == "separable":  # every candidate scores 1.0: the smallest C and PCA win the tie
        assert chosen == {"pca_variance": 0.9, "C": 0.001}


def test_the_search_settings_are_parameters():
    est = PCASVM(Cs=(0.1, 1.0), variances=(0.95,), max_iter=50)
    assert est.search_settings() == {"pca_variance": [0.95], "C": [0.1, 1.0], "max_folds": 10,
                                     "max_stratified_folds": 5, "max_iter": 50}
    rng = np.random.default_rng(0)
    Xs, ys, groups = data_set("speakers", rng)
    est.fit(Xs, ys, groups)
    assert [(r["pca_variance"], r["C"]) for r in est.cv_results_] == [(0.95, 0.1), (0.95, 1.0)]
    assert est.model_[1].max_iter == 50
