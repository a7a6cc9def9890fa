"""PCA + linear SVM, the paper's baseline, with every choice made on the source only.

The paper searches C in {0.001, 0.01, 0.1, 1, 10} without saying on what data; here the PCA size and C
are chosen by a grid search on the source: folds grouped by speaker when the source has two speakers or more
(at most ``max_folds``), stratified otherwise, scored by UAR (balanced accuracy) so that unbalanced classes do
not decide; ties go to the simpler model. Target labels never enter.
"""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.decomposition import PCA
from sklearn.model_selection import GridSearchCV, GroupKFold, StratifiedKFold
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.svm import LinearSVC

PAPER_CS = (0.001, 0.01, 0.1, 1.0, 10.0)
# Fractions of variance kept by PCA; the paper does not give its PCA size.
PCA_VARIANCE = (0.9, 0.95, 0.99)
# Parameters added after model.pkl files were first written, with the value those models were made with.
_ADDED_PARAMS = {"max_stratified_folds": 5, "max_iter": 20000}


def _rows(cv_results: dict) -> list[dict]:
    """One row per candidate of a grid search: its index, PCA variance, C and mean source UAR over the folds."""
    return [{"index": i, "pca_variance": params["pca__n_components"], "C": params["linearsvc__C"],
             "source_cv_uar": float(cv_results["mean_test_score"][i])}
            for i, params in enumerate(cv_results["params"])]


def _simplest(row: dict) -> tuple:
    # Best score first; ties go to the smaller C, then the smaller PCA: the simpler model.
    return (row["source_cv_uar"], -row["C"], -row["pca_variance"])


def simplest_best(cv_results: dict) -> int:
    """``refit`` of the grid search: the index of the best candidate, ties broken towards the simpler model."""
    return max(_rows(cv_results), key=_simplest)["index"]


class PCASVM(BaseEstimator):
    """PCA (a fraction of variance kept) + LinearSVC, both chosen by :func:`simplest_best` on the source."""

    def __init__(self, Cs: tuple[float, ...] = PAPER_CS, variances: tuple[float, ...] = PCA_VARIANCE,
                 max_folds: int = 10, max_stratified_folds: int = 5, max_iter: int = 20000, random_state: int = 0):
        self.Cs = Cs
        self.variances = variances
        self.max_folds = max_folds
        self.max_stratified_folds = max_stratified_folds
        self.max_iter = max_iter
        self.random_state = random_state

    def __setstate__(self, state: dict) -> None:
        # model.pkl files written before some parameters existed still load (and print).
        super().__setstate__({**_ADDED_PARAMS, **state})

    def search_settings(self) -> dict:
        """What decides the search besides the data and the seed (stored with each run, JSON-ready)."""
        return {"pca_variance": list(self.variances), "C": list(self.Cs), "max_folds": self.max_folds,
                "max_stratified_folds": self.max_stratified_folds, "max_iter": self.max_iter}

    def _pipeline(self) -> Pipeline:
        return make_pipeline(PCA(svd_solver="full", random_state=self.random_state),
                             LinearSVC(max_iter=self.max_iter, random_state=self.random_state))

    def _splits(self, X: np.ndarray, y: np.ndarray, groups: np.ndarray | None) -> list:
        """Folds by speaker (or stratified), without those whose training part holds a single class."""
        if groups is not None and len(np.unique(groups)) >= 2:
            folds = GroupKFold(n_splits=min(self.max_folds, len(np.unique(groups)))).split(X, y, groups)
        else:
            k = max(2, min(self.max_stratified_folds, int(np.bincount(y).min())))
            folds = StratifiedKFold(n_splits=k, shuffle=True, random_state=self.random_state).split(X, y)
        return [(tr, va) for tr, va in folds if len(np.unique(y[tr])) >= 2]

    def fit(self, Xs: np.ndarray, ys: np.ndarray, groups: np.ndarray | None = None) -> PCASVM:
        """Choose (PCA variance, C) by cross-validated source UAR, then refit on all source data."""
        grid = {"pca__n_components": list(self.variances), "linearsvc__C": list(self.Cs)}
        splits = self._splits(Xs, ys, groups)
        if splits:
            search = GridSearchCV(self._pipeline(), grid, scoring="balanced_accuracy", cv=splits, refit=simplest_best)
            with warnings.catch_warnings():
                # A speaker's fold may lack a class the model predicts; UAR is over the classes it has.
                warnings.filterwarnings("ignore", "y_pred contains classes not in y_true", UserWarning)
                search.fit(Xs, ys)
            rows, model = _rows(search.cv_results_), search.best_estimator_
            best = rows[search.best_index_]
        else:  # no fold can be fitted: every candidate ties, and ties go to the simplest
            rows = [{"pca_variance": v, "C": C, "source_cv_uar": float("nan")} for v in self.variances for C in self.Cs]
            best = min(rows, key=lambda r: (r["C"], r["pca_variance"]))
            model = self._pipeline().set_params(pca__n_components=best["pca_variance"], linearsvc__C=best["C"])
            model.fit(Xs, ys)
        order = {(v, C): i for i, (v, C) in enumerate((v, C) for v in self.variances for C in self.Cs)}
        self.cv_results_ = [{k: r[k] for k in ("pca_variance", "C", "source_cv_uar")}
                            for r in sorted(rows, key=lambda r: order[(r["pca_variance"], r["C"])])]
        self.best_params_ = {"pca_variance": best["pca_variance"], "C": best["C"]}
        self.model_ = model
        self.n_components_ = int(self.model_[0].n_components_)
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self.model_.predict(X)

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """The softmax of the SVM's decision values: class scores that sum to one, not calibrated probabilities
        (for the label-free scores, which need one score per class)."""
        from scipy.special import softmax

        d = self.model_.decision_function(X)
        return softmax(d if d.ndim == 2 else np.stack([-d, d], axis=1), axis=1)

    def transform(self, X: np.ndarray) -> np.ndarray:
        """The PCA projection the SVM reads."""
        return self.model_[0].transform(X)

    def backward(self, Xs: np.ndarray, ys: np.ndarray, Xt: np.ndarray) -> PCASVM:
        """The baseline fitted afresh on ``(Xs, ys)`` (circular validation; it never sees a target)."""
        from sklearn.base import clone

        return clone(self).fit(Xs, ys)
