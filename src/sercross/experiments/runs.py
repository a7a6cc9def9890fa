"""A run on disk: train one method on one pair with one seed and preset, then score it on the target.

``<cache>/runs/<pair>/<method>/<tag>-seed<k>/`` holds config.json, the model (model.pt, or model.pkl for
pca_svm), history.csv, metrics.json and predictions.csv; ``<pair>`` is the pair's folder name
(:attr:`sercross.experiments.PairKey.dirname`: ``source__target``, ``~classes`` for a chosen class set,
``@all`` for target set all).
"""

from __future__ import annotations

import io
import pickle
import resource
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from sercross import CACHE_VERSION, __version__
from sercross.experiments.label_free import write_label_free
from sercross.experiments.pairs import Pair, pair_inputs
from sercross.experiments.run_status import SCORER, SHALLOW, baseline, run_settings
from sercross.infra import (
    SercrossError,
    atomic_write_bytes,
    atomic_write_csv,
    atomic_write_json,
    blas_backends,
    library_versions,
    sha1_bytes,
)
from sercross.methods import MethodSpec, TrainConfig, alpha_for, get_method, native_bf16, war
from sercross.selection import reverse_validation_of


def train_run(
    cache: Path,
    pair: Pair,
    method: str | MethodSpec,
    preset: str,
    config: TrainConfig,
    seed: int,
    on_epoch: Callable[[int, dict], None] | None = None,
    recipe: dict | None = None,
) -> Path:
    """Train and write every artifact of a run; returns the run folder.

    ``method``: a registry name, or a method definition (a variant of a registry method keeps its name and so its
    folder); ``preset``: the run's tag; ``recipe``: how the run was asked for (stored in config.json, so that a
    hint can give the command that finds it again).
    """
    spec = method if isinstance(method, MethodSpec) else get_method(method)
    if spec.kind == "auto":
        raise SercrossError("auto is a choice among trained runs, not a model to train on its own",
                            hint="use `sercross train --method auto` or `sercross benchmark --methods auto`")
    config = spec.configure(config)
    out = pair.key.run_dir(cache, spec.name, preset, seed)
    alpha = spec.alpha or alpha_for(pair.source, pair.target)
    t0 = time.perf_counter()
    # Xu: the unlabelled target the method trains on; Xt: the target it is scored on (the same array unless the
    # pair's target set is "all").
    Xs, Xu, Xt = pair_inputs(pair, spec.input_norm)
    fit = {"pca_svm": _fit_pca_svm, "shallow": _fit_shallow}.get(spec.kind, _fit_network)
    est, (history_header, history_rows), (model_name, model_bytes), extra = fit(
        pair, spec, config, alpha, seed, Xs, Xu, on_epoch, Xt)
    extra.update(_pair_facts(pair, spec))
    model = {"model_file": model_name, "model_sha1": sha1_bytes(model_bytes), "train_seconds": time.perf_counter() - t0}
    how = {"preset": preset, "seed": seed, "alpha": list(alpha), "train": config.to_dict()}
    config_doc = _config_doc(pair, spec, how, model, recipe, extra)
    # The model and history go first and config.json last: a run counts as finished only once its
    # config.json exists, so an interrupted run never masquerades as a complete one.
    atomic_write_bytes(out / model_name, model_bytes)
    atomic_write_csv(out / "history.csv", history_header, history_rows)
    atomic_write_json(out / "config.json", config_doc)
    from sercross.experiments.evaluation import evaluate_run

    evaluate_run(out, pair, estimator=est, target_inputs=Xt)
    write_label_free(out, config_doc["model_sha1"], est, pair, Xs, Xu, extra.get("reverse_validation_uar"))
    return out


def _pair_facts(pair: Pair, spec: MethodSpec) -> dict:
    """What config.json records of the pair beyond its identity: speaker groups, a target set other than shared."""
    facts: dict = {}
    if spec.input_norm == "speaker":
        # One group on a side means no speaker information there: that side got plain per-corpus scaling.
        target_speakers = pair.target_speakers if pair.Xu is None else pair.unlabelled_speakers
        facts["speaker_groups"] = {"source": len(set(pair.source_speakers)), "target": len(set(target_speakers))}
    if pair.target_set != "shared":  # absent: the default, as in every run made before target sets existed
        facts["target_set"] = pair.target_set
    return facts


def _config_doc(pair: Pair, spec: MethodSpec, how: dict, model: dict, recipe: dict | None, extra: dict) -> dict:
    """config.json of a run: what was trained on what (``how``: preset, seed, alpha, train config; ``model``: its
    file, checksum and training time)."""
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB
    head = {
        "cache_version": CACHE_VERSION,
        "sercross_version": __version__,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "source": pair.source,
        "target": pair.target,
        "feature_set": pair.feature_set,
        "classes": list(pair.classes),
        "class_set": "default" if pair.key.default else "chosen",
        "pair_fingerprint": pair.meta.get("fingerprint"),
        "method": spec.name,
        "method_description": spec.description,
        "method_spec": spec.fingerprint,
    }
    return {
        **head,
        **how,
        **run_settings(spec),
        **model,
        "peak_rss_mb": round(peak_mb, 1),  # of the whole process, as far as this run got
        "libraries": library_versions(),  # another version may give other numbers from the same seed
        "blas": blas_backends(),  # so may another BLAS kernel (another CPU)
        "reported_epoch": "last",
        **({"recipe": recipe} if recipe else {}),
        **extra,
    }


def _fit_pca_svm(pair: Pair, spec: MethodSpec, config: TrainConfig, alpha: tuple, seed: int, Xs: np.ndarray,
                 Xt: np.ndarray, on_epoch: Callable | None, X_scored: np.ndarray):
    """The fitted baseline, its history (the grid), its model file and what config.json adds."""
    est = baseline(seed).fit(Xs, pair.ys, np.array(pair.source_speakers))
    history = (["pca_variance", "C", "source_cv_uar"],
               [[r["pca_variance"], r["C"], r["source_cv_uar"]] for r in est.cv_results_])
    extra = {"chosen": est.best_params_, "n_components": est.n_components_}
    return est, history, ("model.pkl", pickle.dumps(est)), extra


def _fit_shallow(pair: Pair, spec: MethodSpec, config: TrainConfig, alpha: tuple, seed: int, Xs: np.ndarray,
                 Xt: np.ndarray, on_epoch: Callable | None, X_scored: np.ndarray):
    """The fitted skada pipeline (deterministic: the seed only names the run), its model file, its score."""
    from sercross.methods import ShallowEstimator

    est = ShallowEstimator(spec.adapter, SHALLOW, random_state=0).fit(Xs, pair.ys, Xt, n_classes=len(pair.classes))
    extra = {"reverse_validation_uar": reverse_validation_of(est, Xs, pair.ys, Xt, len(pair.classes), SCORER)}
    if est.fit_warnings_:
        extra["fit_warnings"] = est.fit_warnings_
    return est, (["adapter"], [[spec.adapter]]), ("model.pkl", pickle.dumps(est)), extra


def _fit_network(pair: Pair, spec: MethodSpec, config: TrainConfig, alpha: tuple, seed: int, Xs: np.ndarray,
                 Xt: np.ndarray, on_epoch: Callable | None, X_scored: np.ndarray):
    """The fitted network, its history (one row per epoch), its model file and what config.json adds.

    ``Xt``: the unlabelled target it trains on; ``X_scored``: the target utterances that are scored (monitoring).
    """
    from sercross.methods import NetworkEstimator

    def monitor(epoch: int, row: dict) -> None:
        # Monitoring only: recorded for plots, never read by training or selection.
        if config.monitor_target and pair.labelled:
            row["target_war_monitor"] = war(pair.yt, est.predict(X_scored))
        if on_epoch is not None:
            on_epoch(epoch, row)

    est = NetworkEstimator(spec, config, alpha, random_state=seed)
    est.fit(Xs, pair.ys, Xt, n_classes=len(pair.classes), on_epoch=monitor)
    header = list(est.history_[0].keys()) if est.history_ else ["epoch"]
    history = (header, [[row.get(k) for k in header] for row in est.history_])
    # Unsupervised (source labels and unlabelled target only): a score that may choose between models.
    extra = {"reverse_validation_uar": reverse_validation_of(est, Xs, pair.ys, Xt, len(pair.classes), SCORER)}
    if est.config_.precision == "bf16":
        # Where the run was trained: emulated bf16 gives the same kind of numbers, but its wall time means nothing.
        extra["bf16_native"] = native_bf16().precision == "bf16"
    return est, history, ("model.pt", torch_bytes(est)), extra


def torch_bytes(est) -> bytes:
    """model.pt of a fitted network: its weights and what rebuilds it (:func:`.run_files.load_estimator`)."""
    import torch

    buf = io.BytesIO()
    torch.save(
        {
            "state_dict": est.model_.state_dict(),
            "n_features": est.n_features_in_,
            "n_classes": est.n_classes_,
            "method": est.method.name,
            # Without later fields that hold their earlier value: unchanged trainings give byte-identical files.
            "config": est.config.compact_dict(),
            "alpha": list(est.alpha),
            "random_state": est.random_state,
        },
        buf,
    )
    return buf.getvalue()
