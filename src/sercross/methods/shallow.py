"""Shallow domain adaptation from skada (Gnassounou et al., https://scikit-adaptation.github.io) on the pair's
features, every adapter followed by the same classifier.

Each method standardises the features (statistics of source and target together), applies one skada adapter
(CORAL, subspace alignment, a linear optimal-transport mapping, kernel mean matching, OT label propagation, or
none), and classifies with a multinomial logistic regression. Every hyper-parameter is fixed in
:class:`ShallowSettings`, none is chosen on the target; the classifier's C was chosen by speaker-grouped
cross-validation *within* the development corpora (source labels only, ``bench/shallow_classifier_C.md``).
Fitting is deterministic: the same inputs give the same model whatever the seed.

skada switches scikit-learn's metadata routing on for the whole process when imported; every skada call here
runs inside :func:`sercross.methods.skada_env.skada_context`, which keeps that switch inside the call.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin

from sercross.infra import SercrossError


@dataclass(frozen=True)
class ShallowSettings:
    """Every fixed hyper-parameter of the shallow methods (stored with each run: changing one makes runs stale)."""

    C: float = 0.03  # logistic regression; bench/shallow_classifier_C.md
    max_iter: int = 3000
    subspace_components: int = 50  # subspace alignment (Fernando et al. 2013)
    pca_components: int = 100  # before the OT mappings: optimal transport in 1582-d is slow and no better
    # ... and at most one component per this many utterances of the smaller domain (see _pca)
    pca_samples_per_component: int = 2
    kmm_gamma: str = "1/d"  # RBF width of kernel mean matching: 1 / number of features

    def __post_init__(self) -> None:
        from sercross.methods.validation import check_choice, check_number

        check_number("ShallowSettings", "C", self.C, low=0, low_open=True)
        for name in ("max_iter", "subspace_components", "pca_components", "pca_samples_per_component"):
            check_number("ShallowSettings", name, getattr(self, name), integer=True, low=1)
        check_choice("ShallowSettings", "kmm_gamma", self.kmm_gamma, ("1/d",))

    def to_dict(self) -> dict:
        return asdict(self)


def _classifier(s: ShallowSettings):
    from sklearn.linear_model import LogisticRegression

    # Reweighting adapters pass sample weights to the classifier: it must ask for them.
    return LogisticRegression(C=s.C, max_iter=s.max_iter).set_fit_request(sample_weight=True)


def _pca(s: ShallowSettings, most: int, seed: int):
    from sklearn.decomposition import PCA

    # The OT mappings estimate each domain's covariance in the reduced space: with fewer samples than twice the
    # dimensions it is near-singular and the Bures mapping's square root fails (seen on 20-utterance corpora).
    # Real corpora (hundreds of utterances) keep pca_components.
    return PCA(n_components=max(1, min(s.pca_components, most // s.pca_samples_per_component)), random_state=seed)


# Adapter name -> the skada steps between the standardisation and the classifier, given skada, the settings, the
# number of features d, the most components a projection can have (min of d and the smaller domain's size) and
# the random state.
ADAPTERS: dict[str, Callable] = {
    "none": lambda skada, s, d, most, seed: [],
    "coral": lambda skada, s, d, most, seed: [skada.CORALAdapter()],  # Sun et al. 2016
    "subspace": lambda skada, s, d, most, seed: [  # Fernando et al. 2013
        skada.SubspaceAlignmentAdapter(n_components=min(s.subspace_components, most), random_state=seed)],
    "linear_ot": lambda skada, s, d, most, seed: [_pca(s, most, seed), skada.LinearOTMappingAdapter()],
    "kmm": lambda skada, s, d, most, seed: [skada.KMMReweightAdapter(gamma=1.0 / d)],  # Huang et al. 2006
    "ot_label_prop": lambda skada, s, d, most, seed: [_pca(s, most, seed), skada.OTLabelPropAdapter()],
}


def _domains(n_source: int, n_target: int) -> np.ndarray:
    return np.concatenate([np.ones(n_source, int), -np.ones(n_target, int)])  # skada: > 0 source, < 0 target


class ShallowEstimator(ClassifierMixin, BaseEstimator):
    """Standardisation, a skada adapter and a logistic regression, fitted on source and unlabelled target.

    ``fit(Xs, ys, Xt)`` sees no target label. ``transform`` gives the representation the classifier reads (after
    the adapter; for reweighting adapters, the standardised features), used by the label-free scores.
    """

    def __init__(self, adapter: str = "none", settings: ShallowSettings = ShallowSettings(), random_state: int = 0):
        self.adapter = adapter
        self.settings = settings
        self.random_state = random_state

    def fit(self, Xs: np.ndarray, ys: np.ndarray, Xt: np.ndarray, n_classes: int | None = None) -> ShallowEstimator:
        from sklearn.preprocessing import StandardScaler

        from sercross.methods.skada_env import skada_context

        if self.adapter not in ADAPTERS:
            raise SercrossError(f"unknown shallow adapter {self.adapter!r}", hint=f"one of: {', '.join(ADAPTERS)}")
        X = np.vstack([Xs, Xt]).astype(np.float64)
        y = np.concatenate([np.asarray(ys, int), -np.ones(len(Xt), int)])  # -1: masked (unlabelled) target
        with skada_context() as skada, warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            most = min(X.shape[1], len(Xs), len(Xt))
            steps = ADAPTERS[self.adapter](skada, self.settings, X.shape[1], most, self.random_state)
            self.pipeline_ = skada.make_da_pipeline(StandardScaler(), *steps, _classifier(self.settings))
            self.pipeline_.fit(X, y, sample_domain=_domains(len(Xs), len(Xt)))
        # POT's and scikit-learn's warnings (an OT solver's iteration cap, a logistic regression not converged)
        # are kept with the run (config.json) instead of interleaving with progress bars of parallel runs.
        self.fit_warnings_ = sorted({f"{w.category.__name__}: {w.message}" for w in caught})
        self.classes_ = np.arange(n_classes or int(np.max(ys)) + 1)
        self.n_features_in_ = X.shape[1]
        return self

    def _call(self, method: str, X: np.ndarray, steps: slice = slice(None)) -> np.ndarray:
        from sercross.methods.skada_env import skada_context

        X = np.asarray(X, np.float64)
        with skada_context():
            return getattr(self.pipeline_[steps], method)(X, sample_domain=_domains(0, len(X)))

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        proba = self._call("predict_proba", X)
        if proba.shape[1] == len(self.classes_):
            return proba
        # a class absent from the source: its column is 0 (keeps columns aligned with the pair's classes)
        full = np.zeros((len(X), len(self.classes_)))
        full[:, self.pipeline_[-1].get_estimator().classes_] = proba  # skada wraps the classifier in a selector
        return full

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self.predict_proba(X).argmax(axis=1)

    def transform(self, X: np.ndarray) -> np.ndarray:
        """What the classifier reads: the standardised features after the adapter's mapping, if any."""
        return self._call("transform", X, slice(0, -1))

    def backward(self, Xs: np.ndarray, ys: np.ndarray, Xt: np.ndarray) -> ShallowEstimator:
        """The same method fitted afresh with ``(Xs, ys)`` as source and ``Xt`` as target (circular validation)."""
        from sklearn.base import clone

        return clone(self).fit(Xs, ys, Xt, n_classes=len(self.classes_))
