"""Label-free scores of a trained run: how good it looks on the target without a single target label.

Seven scores, each "higher is better":

- ``rv``: reverse validation (Zhong et al. 2010; :mod:`sercross.selection.reverse`): a logistic regression trained
  on the target's learned representation with the run's own target predictions, scored (UAR) on the source.
- ``circ``: circular validation (Bruzzone & Marconcini 2010) as skada computes it: the run's method trained again
  backwards (pseudo-labelled target as source, source as unlabelled target) and scored by balanced accuracy on the
  source. For shallow methods and PCA + SVM the method itself is retrained; retraining a network would double its
  cost, so its backward model is a logistic regression on its representation, which makes ``circ`` equal to
  ``rv`` for network runs.
- ``entropy``: minus the mean entropy of the target predictions (Morerio et al. 2018).
- ``snd``: soft neighbourhood density of the target predictions (Saito et al. 2021).
- ``dev``: deep embedded validation (You et al. 2019), minus a source loss importance-weighted by a domain
  classifier on the learned representation.
- ``iws``: importance-weighted source accuracy (Sugiyama et al. 2007), densities estimated by kernel density on the
  first principal components (a kernel density in 1582 dimensions is degenerate).
- ``mixval``: MixVal (Hu et al. 2023), consistency of the predictions on mixed target samples.

All but ``rv`` are skada's scorers (``skada.metrics``), called through :class:`_RunView`, which shows any run (a
network, PCA + SVM, a skada pipeline) to them in the same way. ``dev``, ``iws`` and ``circ`` read source labels,
on the source utterances the run was trained on (a run keeps no source data aside): an optimistic view that
favours runs that fit the source closely. Which score, if any, chooses well is measured on the development pairs
(``bench/selection.md``), never assumed.
"""

from __future__ import annotations

import types
import warnings
from dataclasses import asdict, dataclass

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin

SCORES = ("rv", "circ", "entropy", "snd", "dev", "iws", "mixval")


@dataclass(frozen=True)
class ScoreSettings:
    """Every constant of the scores (stored beside them: other settings mean other scores)."""

    density_components: int = 10  # iws: principal components of the kernel density
    backward_C: float = 1.0  # circ: the backward logistic regression
    backward_max_iter: int = 2000
    random_state: int = 0  # dev's source split and mixval's mixing partners: fixed, so a score is a function of the run

    def to_dict(self) -> dict:
        return asdict(self)


class _PCADensity(BaseEstimator):
    """Kernel density on the first principal components (``fit`` / ``score_samples``, as skada's iws expects)."""

    def __init__(self, n_components: int = 10, random_state: int = 0):
        self.n_components = n_components
        self.random_state = random_state

    def fit(self, X, y=None):
        from sklearn.decomposition import PCA
        from sklearn.neighbors import KernelDensity

        self.pca_ = PCA(min(self.n_components, *X.shape), random_state=self.random_state).fit(X)
        self.kde_ = KernelDensity(bandwidth="scott").fit(self.pca_.transform(X))
        return self

    def score_samples(self, X):
        return self.kde_.score_samples(self.pca_.transform(X))


class _RunView(ClassifierMixin, BaseEstimator):
    """A fitted run as skada's scorers see a model: predictions that accept ``sample_domain``, a weighted
    ``score``, the learned representation (``predict_features``, for dev), and a ``fit`` that trains the backward
    classifier of circular validation on that representation."""

    def __init__(self, run=None, settings: ScoreSettings = ScoreSettings()):
        self.run = run
        self.settings = settings
        self.module_ = types.SimpleNamespace(layer_name="features")  # skada's dev reads it from deep models
        self.backward_ = None  # circular validation's backward model, once fitted
        self.backward_reads_inputs_ = False  # True: it is a run of the same method, reading the inputs itself

    def _features(self, X):
        return np.asarray(self.run.transform(X), np.float64)

    def _backward_input(self, X):
        return X if self.backward_reads_inputs_ else self._features(X)

    def predict_proba(self, X, sample_domain=None, allow_source=False, **_):
        if self.backward_ is not None:
            return self.backward_.predict_proba(self._backward_input(X))
        return np.asarray(self.run.predict_proba(X), np.float64)

    def predict(self, X, sample_domain=None, allow_source=False, **_):
        if self.backward_ is not None:
            return self.backward_.predict(self._backward_input(X))
        return np.asarray(self.run.predict(X))

    def predict_features(self, X):
        return self._features(X)

    def score(self, X, y, sample_weight=None, **_):
        return float(np.average(self.predict(X) == np.asarray(y), weights=sample_weight))

    def fit(self, X, y, sample_domain=None, **_):
        """Circular validation's backward model, trained on the pseudo-labelled target ("source" in skada's
        backward pass) and the original source as unlabelled "target": the run's own method again when it is
        cheap (shallow methods, PCA + SVM), else a logistic regression on the run's representation."""
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        labelled = np.asarray(sample_domain) > 0
        X, y = np.asarray(X), np.asarray(y)
        backward = getattr(self.run, "backward", None)
        if backward is not None:
            self.backward_ = backward(X[labelled], y[labelled], X[~labelled])
            self.backward_reads_inputs_ = True
            return self
        s = self.settings
        self.backward_ = make_pipeline(StandardScaler(),
                                       LogisticRegression(C=s.backward_C, max_iter=s.backward_max_iter))
        self.backward_.fit(self._features(X[labelled]), y[labelled])
        return self


def _skada_scorers(skada, s: ScoreSettings) -> dict:
    m = skada.metrics
    return {
        "circ": m.CircularValidation(),
        "entropy": m.PredictionEntropyScorer(),
        "snd": m.SoftNeighborhoodDensity(),
        "dev": m.DeepEmbeddedValidation(random_state=s.random_state),
        "iws": m.ImportanceWeightedScorer(weight_estimator=_PCADensity(s.density_components, s.random_state)),
        "mixval": m.MixValScorer(random_state=s.random_state),
    }


def label_free_scores(run, Xs: np.ndarray, ys: np.ndarray, Xt: np.ndarray, n_classes: int,
                      settings: ScoreSettings = ScoreSettings(), rv: float | None = None) -> dict[str, float | None]:
    """Every score of :data:`SCORES` for a fitted ``run`` (anything with predict, predict_proba and transform) on
    the source ``(Xs, ys)`` and the unlabelled target ``Xt``, as the run sees its inputs. A score that cannot be
    computed (e.g. a degenerate domain classifier) is None, with the reason in a warning. ``rv``: the run's
    reverse-validation score when it is known already (training computes it)."""
    from sercross.methods.skada_env import skada_context
    from sercross.selection.reverse import reverse_validation_of

    out: dict[str, float | None] = {"rv": rv if rv is not None else reverse_validation_of(run, Xs, ys, Xt, n_classes)}
    X = np.vstack([Xs, Xt]).astype(np.float64)
    y = np.concatenate([np.asarray(ys, int), -np.ones(len(Xt), int)])
    domain = np.concatenate([np.ones(len(Xs), int), -np.ones(len(Xt), int)])
    failed: dict[str, str] = {}
    with skada_context() as skada, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence and degenerate-weight chatter of the scorers' own models
        view = _RunView(run, settings).set_score_request(sample_weight=True)
        for name, scorer in _skada_scorers(skada, settings).items():
            if name == "circ" and getattr(run, "backward", None) is None:
                out[name] = out["rv"]  # the same backward model, scaler and metric: computed once
                continue
            try:
                value = float(scorer(view, X, y, sample_domain=domain))
            except (ValueError, FloatingPointError, np.linalg.LinAlgError) as exc:
                failed[name], value = str(exc), float("nan")
            out[name] = value if np.isfinite(value) else None
    for name, why in failed.items():
        warnings.warn(f"label-free score {name} could not be computed: {why}", stacklevel=2)
    return out
