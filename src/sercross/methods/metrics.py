"""Scores on the target: WAR (accuracy), UAR (mean per-class recall), per-class recall, confusion."""

from __future__ import annotations

import numpy as np


def confusion(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> np.ndarray:
    """Counts, rows = true class, columns = predicted class."""
    m = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(m, (np.asarray(y_true, dtype=np.int64), np.asarray(y_pred, dtype=np.int64)), 1)
    return m


def per_class_recall(cm: np.ndarray) -> np.ndarray:
    """Recall per true class; NaN for a class with no sample."""
    support = cm.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(support > 0, np.diag(cm) / np.maximum(support, 1), np.nan)


def war(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Weighted average recall = accuracy over all samples (the paper's metric)."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    return float((y_true == y_pred).mean()) if len(y_true) else float("nan")


def uar(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> float:
    """Unweighted average recall over the classes that occur in y_true."""
    rec = per_class_recall(confusion(y_true, y_pred, n_classes))
    return float(np.nanmean(rec)) if np.isfinite(rec).any() else float("nan")


def score(y_true: np.ndarray, y_pred: np.ndarray, classes: tuple[str, ...] | list[str]) -> dict:
    n = len(classes)
    cm = confusion(y_true, y_pred, n)
    rec = per_class_recall(cm)
    return {
        "war": war(y_true, y_pred),
        "uar": uar(y_true, y_pred, n),
        "n": int(len(y_true)),
        "classes": list(classes),
        "per_class_recall": {c: (None if np.isnan(r) else float(r)) for c, r in zip(classes, rec)},
        "confusion": cm.tolist(),
    }
