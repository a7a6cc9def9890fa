"""Scoring a run on its target (metrics.json, predictions.csv), and what a run on an unlabelled target reports.

Target labels only score: WAR, UAR, per-class recall, confusion and each speaker's WAR and UAR. predictions.csv lists
every target utterance with its speaker, true class (empty without labels), predicted class and the probability
of each class.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from sercross.experiments.pairs import Pair
from sercross.experiments.run_files import load_estimator, read_run_config, run_inputs
from sercross.infra import SercrossError, atomic_write_csv, atomic_write_json
from sercross.methods import score


def evaluate_run(out: Path, pair: Pair, estimator=None, target_inputs: np.ndarray | None = None) -> dict:
    """Score a run on its target; writes metrics.json and predictions.csv. Target labels only score.

    ``target_inputs``: the target features as the model sees them, when the caller has them already. An unlabelled
    target is not scored: metrics.json says so and counts the predicted classes; predictions.csv has the
    predictions. predictions.csv has each file's speaker and the probability of each class.
    """
    cfg = read_run_config(out)
    if cfg.get("pair_fingerprint") != pair.meta.get("fingerprint"):
        raise SercrossError(
            f"the run in {out} was trained on another version of pair {pair.name}",
            hint="re-train it (`sercross train ... --force`)",
        )
    est = estimator if estimator is not None else load_estimator(out)
    Xt = target_inputs if target_inputs is not None else run_inputs(cfg, pair)[1]
    return write_scored(out, pair, np.asarray(est.predict(Xt)), probabilities(est, Xt),
                        method=cfg["method"], preset=cfg["preset"], seed=cfg["seed"])


def write_scored(out: Path, pair: Pair, pred: np.ndarray, proba: np.ndarray | None, **about) -> dict:
    """metrics.json (``about``: method, preset, seed, …) and predictions.csv of target predictions ``pred`` (class
    indices) with their class probabilities ``proba``. Target labels only score."""
    speakers = pair.target_speakers or [""] * len(pred)
    if pair.labelled:
        metrics = score(pair.yt, pred, pair.classes)
        metrics["per_speaker"] = per_speaker(pair.yt, pred, speakers, pair.classes)
    else:
        metrics = predicted_only(pred, pair.classes)
    metrics.update(scheme=pair.name, **about, epoch="last",
                   evaluated=datetime.now(timezone.utc).isoformat(timespec="seconds"))
    atomic_write_json(out / "metrics.json", metrics)
    truth = [pair.classes[t] if t >= 0 else "" for t in pair.yt]
    write_predictions(out / "predictions.csv", pair.target_files, speakers, truth, pred, pair.classes, proba)
    return metrics


def probabilities(est, X: np.ndarray) -> np.ndarray | None:
    """Each class's probability (networks, shallow methods: softmax outputs; pca_svm: a softmax of the SVM's
    decision values, class scores rather than calibrated probabilities), or None."""
    proba = getattr(est, "predict_proba", None)
    return None if proba is None else np.asarray(proba(X), dtype=np.float64)


def write_predictions(path: Path, files, speakers, truth, pred, classes, proba: np.ndarray | None) -> None:
    """predictions.csv: file, speaker, true class ("" without a label), predicted class, p_<class> per class."""
    header = ["file", "speaker", "true", "predicted"] + ([f"p_{c}" for c in classes] if proba is not None else [])
    rows = []
    for i, (f, spk, t, p) in enumerate(zip(files, speakers, truth, pred)):
        rows.append([f, spk, t, classes[int(p)]] + ([f"{v:.6f}" for v in proba[i]] if proba is not None else []))
    atomic_write_csv(path, header, rows)


def per_speaker(y_true: np.ndarray, y_pred: np.ndarray, speakers, classes) -> dict:
    """WAR, UAR and the number of utterances of each target speaker (a speaker-wise view; no model chosen on it)."""
    speakers = np.asarray(speakers)
    out = {}
    for spk in sorted(set(speakers.tolist())):
        rows = speakers == spk
        s = score(np.asarray(y_true)[rows], np.asarray(y_pred)[rows], classes)
        out[spk or "(none)"] = {"n": s["n"], "war": s["war"], "uar": s["uar"]}
    return out


UNLABELLED_NOTE = ("the target has no labels, so nothing is scored: these are the run's predictions "
                   "(predictions.csv), with the number of target utterances predicted as each class")


def predicted_only(pred: np.ndarray, classes) -> dict:
    """metrics.json of a run on an unlabelled target: no score, the predicted classes counted."""
    counts = np.bincount(np.asarray(pred, dtype=np.int64), minlength=len(classes))
    return {"labelled": False, "war": None, "uar": None, "n": int(len(pred)), "classes": list(classes),
            "predicted": {c: int(k) for c, k in zip(classes, counts)}, "note": UNLABELLED_NOTE}


# A classification loss this many times that of guessing (ln k for k classes) at the last epoch: training diverged.
DIVERGED_FACTOR = 10.0


def run_warnings(out: Path) -> list[str]:
    """What looks wrong with a finished run, from its metrics.json and history.csv: classes it never predicts on the
    target, a training that diverged (its classification loss far above guessing's, or not finite), a classifier
    that learnt nothing of the source. Label-free except the first, which reads the run's own predictions."""
    import math

    from sercross.infra import read_csv, read_json

    met = read_json(out / "metrics.json")
    classes = list(met.get("classes") or [])
    warnings = []
    if met.get("confusion"):
        counts = np.asarray(met["confusion"]).sum(axis=0)
    else:
        counts = np.array([(met.get("predicted") or {}).get(c, 0) for c in classes])
    never = [c for c, k in zip(classes, counts) if k == 0]
    if never and len(never) == len(classes) - 1:
        only = next(c for c, k in zip(classes, counts) if k > 0)
        warnings.append(f"the run predicts {only} for every target utterance (collapsed; its WAR is then that "
                        f"class's share of the target); it never predicts {', '.join(never)}")
    elif never:
        warnings.append(f"the run never predicts {', '.join(never)} on the target")
    try:
        last = read_csv(out / "history.csv")[-1]
    except (OSError, IndexError):
        return warnings
    chance_loss = math.log(max(len(classes), 2))
    loss = _number(last.get("loss_L_y"))
    if loss is not None and (not math.isfinite(loss) or loss > DIVERGED_FACTOR * chance_loss):
        warnings.append(f"training diverged: the classification loss ended at {loss:.4g} (guessing gives "
                        f"{chance_loss:.2f}); lower the learning rate (--lr)")
    acc = _number(last.get("source_train_acc"))
    if acc is not None and classes and acc <= 1.05 / len(classes):
        warnings.append(f"the classifier learnt nothing of the source: its training accuracy ended at {acc:.2f}, "
                        f"chance is {1 / len(classes):.2f}")
    return warnings


def _number(text) -> float | None:
    try:
        return float(text)
    except (TypeError, ValueError):
        return None
