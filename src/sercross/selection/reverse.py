"""Unsupervised model selection: scores computed without target labels.

Reverse validation (Zhong et al., ECML-PKDD 2010; used for DANN by Ganin et al., JMLR 2016): label the target
with the trained model, train a simple classifier on the target's learned features and those pseudo-labels,
and score it on the labelled source. A model whose target clusters line up with the source classes scores
high; one that maps the target onto a single class, or onto the wrong classes, scores low. Only source
labels are read, so this score may choose between methods, options and hyper-parameters.
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from sercross.methods.metrics import uar
from sercross.methods.validation import check_number


@dataclass(frozen=True)
class ReverseValidation:
    """The settings of the reverse-validation classifier (a logistic regression on standardised features)."""

    C: float = 1.0
    max_iter: int = 2000

    def __post_init__(self) -> None:
        check_number("ReverseValidation", "C", self.C, low=0, low_open=True)
        check_number("ReverseValidation", "max_iter", self.max_iter, integer=True, low=1)

    def to_dict(self) -> dict:
        return asdict(self)


def reverse_validation(
    source_features: np.ndarray,
    source_labels: np.ndarray,
    target_features: np.ndarray,
    target_pseudo_labels: np.ndarray,
    n_classes: int,
    settings: ReverseValidation = ReverseValidation(),
) -> float:
    """Source UAR of a logistic regression trained on (target features, the model's target predictions).

    A target predicted as a single class gives a classifier that cannot separate anything: its score is
    the chance level 1 / n_classes.
    """
    pseudo = np.asarray(target_pseudo_labels)
    if len(np.unique(pseudo)) < 2:
        return 1.0 / n_classes
    scaler = StandardScaler().fit(target_features)
    clf = LogisticRegression(max_iter=settings.max_iter, C=settings.C)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(scaler.transform(target_features), pseudo)
    pred = clf.predict(scaler.transform(source_features))
    return uar(np.asarray(source_labels), pred, n_classes)


def reverse_validation_of(estimator, Xs: np.ndarray, ys: np.ndarray, Xt: np.ndarray, n_classes: int,
                          settings: ReverseValidation = ReverseValidation()) -> float:
    """:func:`reverse_validation` of a fitted network estimator (anything with transform and predict)."""
    return reverse_validation(estimator.transform(Xs), ys, estimator.transform(Xt), estimator.predict(Xt), n_classes,
                              settings)
