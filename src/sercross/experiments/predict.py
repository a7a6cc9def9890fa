"""A trained run applied to new recordings: ``sercross predict RUN --root FOLDER``.

The folder's features are extracted (every audio file under it, or the files a manifest selects), scaled as the run's
target was scaled (with the target's per-feature minimum and maximum, kept with the pair), and the run's model
predicts each file's class with the probability of each class. Speaker-normalised runs standardise each new speaker
on that speaker's new recordings (a folder without speaker information is one group), then scale as the run's
speaker-normalised target was scaled. The new recordings are meant to come from the run's target domain: scaling
them with the target's statistics assumes it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sercross.corpora import Manifest, unlabelled_manifest
from sercross.experiments.commands import run_key
from sercross.experiments.evaluation import probabilities, write_predictions
from sercross.experiments.pairs import Pair, load_pair
from sercross.experiments.scaling import apply_minmax, minmax_params, speaker_standardize
from sercross.features import load_features
from sercross.infra import SercrossError, sha1_bytes
from sercross.methods import score

PREDICT_CACHE = "predict"  # <cache>/predict/: the features of folders predicted on (not corpora of the cache)


@dataclass
class Prediction:
    out: Path  # the predictions CSV written
    n: int
    counts: dict[str, int]  # predicted class -> files
    metrics: dict | None  # when the folder's manifest labels the files (scored on the run's classes)
    speaker_groups: int | None  # speaker-normalised runs: the speaker groups of the new files


def folder_manifest(root: Path) -> Manifest:
    """Every audio file under ``root``, unlabelled, named after the folder's absolute path."""
    return unlabelled_manifest("predict-" + sha1_bytes(str(Path(root).resolve()).encode())[:12],
                               f"recordings in {root}")


def predict_folder(cache: Path, run: Path, root: Path, extract: Callable, manifest: Manifest | None = None,
                   out: Path | None = None) -> Prediction:
    """Predict every file of ``root`` with the run in ``run``; writes the predictions CSV (default
    ``<cache>/predictions/<folder>__<run>.csv``). ``extract(manifest, root, cache)`` extracts the folder's
    features into ``cache`` (the CLI passes one that shows progress)."""
    from sercross.experiments.resolve import add_target_scaling
    from sercross.experiments.run_files import read_run_config

    run = Path(run)
    cfg = read_run_config(run)
    feature_set = cfg["feature_set"]
    pair = load_pair(cache, run_key(cfg), feature_set=feature_set)
    if pair.meta.get("fingerprint") != cfg.get("pair_fingerprint"):
        raise SercrossError(f"the pair {pair.name} changed since the run in {run} was trained",
                            hint="train the run again (`sercross train … --force`) before predicting with it")
    if pair.target_scaling is None and not add_target_scaling(cache, pair, load_features(cache, pair.target,
                                                                                         feature_set)):
        raise SercrossError(f"the target features of {pair.name} no longer hold the files of its pair",
                            hint="train the run again (`sercross train … --force`)")
    manifest = manifest or folder_manifest(root)
    sub = Path(cache) / PREDICT_CACHE
    extract(manifest, Path(root), sub)
    table = load_features(sub, manifest.name, feature_set)
    speakers = [u.speaker for u in table.utterances]
    pred, proba, groups = _model_outputs(run, cfg, pair, table.X, speakers)
    classes = pair.classes
    truth = [u.emotion if u.emotion in classes else "" for u in table.utterances]
    out = Path(out) if out is not None else default_out(cache, run, root)
    write_predictions(out, [u.file for u in table.utterances], speakers, truth, pred, classes, proba)
    counts = {c: int((pred == k).sum()) for k, c in enumerate(classes)}
    scored = [i for i, t in enumerate(truth) if t]
    metrics = None
    if scored:
        y = np.array([classes.index(truth[i]) for i in scored])
        metrics = score(y, pred[scored], classes)
    return Prediction(out, len(pred), counts, metrics, groups)


def _model_outputs(run: Path, cfg: dict, pair: Pair, X: np.ndarray, speakers: list[str]):
    """``(predicted class, class probabilities or None, speaker groups)`` of the run's model on new features; an
    ``auto`` run that combines several candidates combines their probabilities as it did, each on its own inputs."""
    from sercross.experiments.run_files import load_estimator, read_run_config

    members = cfg.get("member_run_dirs") if cfg.get("method") == "auto" else None
    if not members:
        inputs, groups = _inputs(cfg, pair, X, speakers)
        est = load_estimator(run)
        return np.asarray(est.predict(inputs)), probabilities(est, inputs), groups
    probs, groups = [], None
    for d in map(Path, members):
        inputs, g = _inputs(read_run_config(d), pair, X, speakers)
        groups = groups if g is None else g
        p = probabilities(load_estimator(d), inputs)
        if p is None:
            raise SercrossError(f"the run {d} averaged by {run} gives no class probabilities")
        probs.append(p)
    from sercross.selection import combine_outputs

    return (*combine_outputs(probs, cfg.get("combine", "mean")), groups)


def _inputs(cfg: dict, pair: Pair, X: np.ndarray, speakers: list[str]) -> tuple[np.ndarray, int | None]:
    """The new features as the run's model sees its target's: scaled with the target's minimum and maximum, and for
    a speaker-normalised run standardised per speaker, then scaled as the speaker-normalised target was."""
    scaled = apply_minmax(X, *pair.target_scaling)
    if (cfg.get("method_spec") or {}).get("input_norm", "corpus") != "speaker":
        return scaled, None
    if pair.target_speakers is None:
        raise SercrossError(f"pair {pair.name} was saved without its target speakers (an older sercross)",
                            hint="train the run again (`sercross train … --force`)")
    lo, hi = minmax_params(speaker_standardize(pair.Xt, pair.target_speakers))
    return apply_minmax(speaker_standardize(scaled, speakers), lo, hi), len(set(speakers))


def default_out(cache: Path, run: Path, root: Path) -> Path:
    """``<cache>/predictions/<folder name>__<pair>__<method>__<tag-seed>.csv``."""
    name = "__".join([Path(root).resolve().name or "root", run.parent.parent.name, run.parent.name, run.name])
    return Path(cache) / "predictions" / f"{name}.csv"
