"""PCA + linear SVM, the paper's baseline, with every choice made on the source only.

The paper searches C in {0.001, 0.01, 0.1, 1, 10} without saying on what data; here the PCA size and C
are chosen by leave-one-speaker-out cross-validation on the source (grouped k-fold when the source has
many speakers), scored by UAR so that unbalanced classes do not decide. Target labels never enter.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.decomposition import PCA
from sklearn.model_selection import GroupKFold, StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.svm import LinearSVC

from sercross.methods.metrics import uar

PAPER_CS = (0.001, 0.01, 0.1, 1.0, 10.0)
# Fractions of variance kept by PCA; the paper does not give its PCA size.
PCA_VARIANCE = (0.9, 0.95, 0.99)


@dataclass
class PCASVM:
    Cs: tuple[float, ...] = PAPER_CS
    variances: tuple[float, ...] = PCA_VARIANCE
    max_folds: int = 10
    random_state: int = 0

    def _make(self, variance: float, C: float):
        return make_pipeline(
            PCA(n_components=variance, svd_solver="full", random_state=self.random_state),
            LinearSVC(C=C, max_iter=20000, random_state=self.random_state),
        )

    def _splits(self, X: np.ndarray, y: np.ndarray, groups: np.ndarray | None):
        if groups is not None and len(np.unique(groups)) >= 2:
            k = min(self.max_folds, len(np.unique(groups)))
            return list(GroupKFold(n_splits=k).split(X, y, groups))
        k = max(2, min(5, int(np.bincount(y).min())))
        return list(StratifiedKFold(n_splits=k, shuffle=True, random_state=self.random_state).split(X, y))

    def fit(self, Xs: np.ndarray, ys: np.ndarray, groups: np.ndarray | None = None) -> PCASVM:
        """Choose (PCA variance, C) by cross-validated source UAR, then refit on all source data."""
        n_classes = int(ys.max()) + 1
        splits = self._splits(Xs, ys, groups)
        self.cv_results_ = []
        for v in self.variances:
            for C in self.Cs:
                scores = []
                for tr, va in splits:
                    if len(np.unique(ys[tr])) < 2:
                        continue
                    model = self._make(v, C).fit(Xs[tr], ys[tr])
                    scores.append(uar(ys[va], model.predict(Xs[va]), n_classes))
                self.cv_results_.append({"pca_variance": v, "C": C, "source_cv_uar": float(np.nanmean(scores))})
        # Ties go to the smaller C and the smaller PCA, i.e. the simpler model.
        best = max(self.cv_results_, key=lambda r: (r["source_cv_uar"], -r["C"], -r["pca_variance"]))
        self.best_params_ = {"pca_variance": best["pca_variance"], "C": best["C"]}
        self.model_ = self._make(best["pca_variance"], best["C"]).fit(Xs, ys)
        self.n_components_ = int(self.model_[0].n_components_)
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self.model_.predict(X)
