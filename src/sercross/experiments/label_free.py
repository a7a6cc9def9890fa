"""What a run says about the target without its labels (:mod:`sercross.selection`): its label-free scores and its
target predictions (class indices), in scores.json beside its metrics.

scores.json is written after config.json: a run without it is finished, and :func:`run_label_free` computes it when
asked.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sercross.experiments.pairs import Pair, pair_inputs
from sercross.experiments.run_files import load_estimator, read_run_config
from sercross.infra import atomic_write_json, read_json
from sercross.selection import ScoreSettings, label_free_scores

SCORES_FILE = "scores.json"
SCORE_SETTINGS = ScoreSettings()


def write_label_free(out: Path, model_sha1: str, est, pair: Pair, Xs: np.ndarray, Xt: np.ndarray,
                     rv: float | None) -> dict:
    """Compute and store scores.json of the fitted ``est`` (``Xt``: the unlabelled target it trained on; ``rv``:
    its reverse-validation UAR, already computed by training); returns the document."""
    doc = {"model_sha1": model_sha1, "settings": SCORE_SETTINGS.to_dict(),
           "scores": label_free_scores(est, Xs, pair.ys, Xt, len(pair.classes), rv=rv),
           "target_predictions": [int(k) for k in est.predict(Xt)]}
    atomic_write_json(out / SCORES_FILE, doc)
    return doc


def _current_label_free(out: Path) -> dict | None:
    """The run's scores.json if it was made for this very model with today's settings."""
    try:
        doc, cfg = read_json(out / SCORES_FILE), read_json(out / "config.json")
    except (OSError, ValueError):
        return None
    fresh = doc.get("model_sha1") == cfg.get("model_sha1") and doc.get("settings") == SCORE_SETTINGS.to_dict()
    return doc if fresh and "target_predictions" in doc else None


def scores_current(out: Path) -> dict | None:
    """The run's label-free scores if its scores.json is up to date, else None."""
    doc = _current_label_free(out)
    return None if doc is None else doc["scores"]


def run_label_free(out: Path, pair: Pair) -> dict:
    """``{"scores": {...}, "target_predictions": [...]}`` of the run in ``out``: from its scores.json when that was
    made for this very model with today's settings, else computed (and stored) from the model, the source and the
    unlabelled target."""
    doc = _current_label_free(out)
    if doc is not None:
        return doc
    cfg = read_run_config(out)
    Xs, Xu, _ = pair_inputs(pair, (cfg.get("method_spec") or {}).get("input_norm", "corpus"))
    return write_label_free(out, cfg["model_sha1"], load_estimator(out), pair, Xs, Xu,
                             cfg.get("reverse_validation_uar"))


def run_scores(out: Path, pair: Pair) -> dict[str, float | None]:
    """The label-free scores of the run in ``out`` (see :func:`run_label_free`)."""
    return run_label_free(out, pair)["scores"]
