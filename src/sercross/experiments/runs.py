"""A run on disk: train one method on one pair with one seed and preset, then score it on the target.

``<cache>/runs/<pair>/<method>/<tag>-seed<k>/`` holds config.json, the model (model.pt, or model.pkl for
pca_svm), history.csv, metrics.json and predictions.csv; ``<pair>`` is the pair's folder name
(:attr:`sercross.experiments.PairKey.dirname`: ``source__target``, ``~classes`` for a chosen class set,
``@all`` for target set all).
"""

from __future__ import annotations

import io
import json
import pickle
import re
import resource
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from sercross import CACHE_VERSION, __version__
from sercross.experiments.keys import PairKey
from sercross.experiments.pairs import Pair, model_inputs, pair_inputs
from sercross.infra import (
    SercrossError,
    atomic_write_bytes,
    atomic_write_csv,
    atomic_write_json,
    check_meta,
    read_json,
    sha1_bytes,
)
from sercross.methods import (
    ADDED_SPEC_KEYS,
    ADDED_TRAIN_FIELDS,
    METHODS,
    PCASVM,
    MethodSpec,
    ShallowSettings,
    TrainConfig,
    alpha_for,
    get_method,
    native_bf16,
    war,
)
from sercross.selection import ReverseValidation, ScoreSettings, label_free_scores, reverse_validation_of

# How runs score their network without target labels (config.json: "reverse_validation").
SCORER = ReverseValidation()
# The fixed hyper-parameters of the shallow methods (config.json: "shallow").
SHALLOW = ShallowSettings()
# Settings outside TrainConfig and MethodSpec that decide a run's results, with the value runs written before
# they were stored had: a config.json without the key means this value.
_BEFORE_SETTINGS = {
    "pca_svm": {"pca_variance": [0.9, 0.95, 0.99], "C": [0.001, 0.01, 0.1, 1.0, 10.0], "max_folds": 10,
                "max_stratified_folds": 5, "max_iter": 20000},
    "reverse_validation": {"C": 1.0, "max_iter": 2000},
}


def _baseline(seed: int) -> PCASVM:
    return PCASVM(random_state=seed)


def run_settings(spec: MethodSpec) -> dict:
    """The settings of the baseline's search, the shallow methods' or the scorer's that a run of ``spec`` uses."""
    if spec.kind == "pca_svm":
        return {"pca_svm": _baseline(0).search_settings()}
    if spec.kind == "shallow":
        return {"shallow": SHALLOW.to_dict(), "reverse_validation": SCORER.to_dict()}
    return {"reverse_validation": SCORER.to_dict()}


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
    method = spec.name
    if spec.kind == "auto":
        raise SercrossError("auto is a choice among trained runs, not a model to train on its own",
                            hint="use `sercross train --method auto` or `sercross benchmark --methods auto`")
    config = spec.configure(config)
    out = pair.key.run_dir(cache, method, preset, seed)
    alpha = spec.alpha or alpha_for(pair.source, pair.target)
    t0 = time.perf_counter()
    # Xu: the unlabelled target the method trains on; Xt: the target it is scored on (the same array unless the
    # pair's target set is "all").
    Xs, Xu, Xt = pair_inputs(pair, spec.input_norm)
    fit = {"pca_svm": _fit_pca_svm, "shallow": _fit_shallow}.get(spec.kind, _fit_network)
    est, (history_header, history_rows), (model_name, model_bytes), extra = fit(
        pair, spec, config, alpha, seed, Xs, Xu, on_epoch, Xt)
    if spec.input_norm == "speaker":
        # One group on a side means no speaker information there: that side got plain per-corpus scaling.
        target_speakers = pair.target_speakers if pair.Xu is None else pair.unlabelled_speakers
        extra["speaker_groups"] = {"source": len(set(pair.source_speakers)), "target": len(set(target_speakers))}
    if pair.target_set != "shared":  # absent: the default, as in every run made before target sets existed
        extra["target_set"] = pair.target_set
    seconds = time.perf_counter() - t0
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB

    config_doc = {
        "cache_version": CACHE_VERSION,
        "sercross_version": __version__,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "source": pair.source,
        "target": pair.target,
        "feature_set": pair.feature_set,
        "classes": list(pair.classes),
        "class_set": "default" if pair.key.default else "chosen",
        "pair_fingerprint": pair.meta.get("fingerprint"),
        "method": method,
        "method_description": spec.description,
        "method_spec": spec.fingerprint,
        "preset": preset,
        "seed": seed,
        "alpha": list(alpha),
        "train": config.to_dict(),
        **run_settings(spec),
        "model_file": model_name,
        "model_sha1": sha1_bytes(model_bytes),
        "train_seconds": seconds,
        "peak_rss_mb": round(peak_mb, 1),  # of the whole process, as far as this run got
        "reported_epoch": "last",
        **({"recipe": recipe} if recipe else {}),
        **extra,
    }
    # The model and history go first and config.json last: a run counts as finished only once its
    # config.json exists, so an interrupted run never masquerades as a complete one.
    atomic_write_bytes(out / model_name, model_bytes)
    atomic_write_csv(out / "history.csv", history_header, history_rows)
    atomic_write_json(out / "config.json", config_doc)
    from sercross.experiments.evaluation import evaluate_run

    evaluate_run(out, pair, estimator=est, target_inputs=Xt)
    _write_label_free(out, config_doc["model_sha1"], est, pair, Xs, Xu, extra.get("reverse_validation_uar"))
    return out


# What a run says about the target without its labels (sercross.selection): its label-free scores and its target
# predictions (class indices), beside its metrics. Written after config.json: a run without them is finished, and
# run_label_free computes them when asked.
SCORES_FILE = "scores.json"
SCORE_SETTINGS = ScoreSettings()


def _write_label_free(out: Path, model_sha1: str, est, pair: Pair, Xs: np.ndarray, Xt: np.ndarray,
                      rv: float | None) -> dict:
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
    return _write_label_free(out, cfg["model_sha1"], load_estimator(out), pair, Xs, Xu,
                             cfg.get("reverse_validation_uar"))


def run_scores(out: Path, pair: Pair) -> dict[str, float | None]:
    """The label-free scores of the run in ``out`` (see :func:`run_label_free`)."""
    return run_label_free(out, pair)["scores"]


def _fit_pca_svm(pair: Pair, spec: MethodSpec, config: TrainConfig, alpha: tuple, seed: int, Xs: np.ndarray,
                 Xt: np.ndarray, on_epoch: Callable | None, X_scored: np.ndarray):
    """The fitted baseline, its history (the grid), its model file and what config.json adds."""
    est = _baseline(seed).fit(Xs, pair.ys, np.array(pair.source_speakers))
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
    return est, history, ("model.pt", _torch_bytes(est)), extra


def _torch_bytes(est) -> bytes:
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


def load_estimator(out: Path):
    """Rebuild the fitted estimator of a run folder."""
    cfg = read_run_config(out)
    if cfg.get("method") == "auto":  # an auto folder names the candidate run it picked
        return load_estimator(Path(cfg["picked_run_dir"]))
    path = out / cfg["model_file"]
    data = path.read_bytes() if path.is_file() else b""
    if not data or sha1_bytes(data) != cfg.get("model_sha1"):
        raise SercrossError(
            f"{path} is missing or does not match {out / 'config.json'} (an interrupted re-training?)",
            hint="train the run again with --force",
        )
    if cfg["model_file"].endswith(".pkl"):  # written by train_run, checksum verified above
        if (cfg.get("method_spec") or {}).get("adapter") is None:
            return _SercrossUnpickler(io.BytesIO(data)).load()
        from sercross.methods.skada_env import skada_context

        with skada_context():  # unpickling a skada pipeline imports skada, which would switch routing on for good
            return _SercrossUnpickler(io.BytesIO(data)).load()
    import torch

    from sercross.methods import NetworkEstimator, TLMLDANet

    blob = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    tc = TrainConfig.from_dict(blob["config"])
    # model.pt names its method; one no longer defined still loads, to predict.
    spec = METHODS.get(blob["method"]) or MethodSpec(blob["method"], "not defined in this version; loaded to predict")
    est = NetworkEstimator(spec, tc, tuple(blob["alpha"]), random_state=blob["random_state"])
    est.model_ = TLMLDANet.for_config(blob["n_features"], blob["n_classes"], tc)
    est.model_.load_state_dict(blob["state_dict"])
    est.model_.eval()
    est.n_features_in_, est.n_classes_ = blob["n_features"], blob["n_classes"]
    return est


# Modules that moved since runs were pickled (sercross 0.1.0 had one flat package): old model.pkl files load.
_MOVED_MODULES = {"sercross.baselines": "sercross.methods.pca_svm"}


class _SercrossUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        return super().find_class(_MOVED_MODULES.get(module, module), name)


def _json(d: object) -> object:
    return json.loads(json.dumps(d))  # tuples -> lists, as in config.json


def _comparable_train(d: dict) -> dict:
    d = _json(d)
    d.pop("threads", None)  # how many threads trained it does not change what a run is
    return d


def _stored_train(cfg: dict) -> dict:
    """The run's training config; a field it lacks counts with the value runs had before the field existed."""
    before = {**TrainConfig().to_dict(), **ADDED_TRAIN_FIELDS}
    return {**_comparable_train(before), **_comparable_train(cfg.get("train", {}))}


def _same_method(cfg: dict, spec: MethodSpec) -> bool:
    stored = cfg.get("method_spec") or {}
    if stored.get("terms") is None:  # runs older than the fingerprint: compared by their description
        return cfg.get("method_description") == spec.description
    wanted = _json(spec.fingerprint)
    stored = {**{k: v for k, v in _json(ADDED_SPEC_KEYS).items() if k in wanted}, **stored}
    return _without_absent_terms(stored) == _without_absent_terms(wanted)


def _without_absent_terms(fingerprint: dict) -> dict:
    """The fingerprint with trailing False flags of ``terms`` dropped: a loss term appended to TERM_NAMES after a
    run was stored (one flag more in every fingerprint, off for that run's method) leaves the run valid."""
    terms = list(fingerprint.get("terms") or [])
    while terms and terms[-1] is False:
        terms.pop()
    return {**fingerprint, "terms": terms}


def _same_settings(cfg: dict, spec: MethodSpec) -> bool:
    wanted = _json(run_settings(spec))
    return all(cfg.get(key, _BEFORE_SETTINGS.get(key)) == value for key, value in wanted.items())


def run_state(
    rdir: Path, pair_fingerprint: str | None, method: str, tag: str, seed: int, config: TrainConfig,
    spec: MethodSpec | None = None,
) -> str:
    """``"finished"`` (metrics.json present, config.json matches), ``"new"`` (nothing there) or why it is stale.

    ``spec``: the method's definition when it is a variant of the registry's ``method``.
    """
    metrics_path, config_path = rdir / "metrics.json", rdir / "config.json"
    if not config_path.is_file():
        return "new"
    if not metrics_path.is_file():
        return "not evaluated (interrupted?)"
    try:
        cfg, met = read_json(config_path), read_json(metrics_path)
    except (OSError, ValueError) as exc:
        return f"unreadable ({exc})"
    if cfg.get("cache_version") != CACHE_VERSION:
        return f"cache layout v{cfg.get('cache_version')}"
    if cfg.get("pair_fingerprint") != pair_fingerprint:
        return "trained on another version of the pair"
    if (cfg.get("method"), cfg.get("preset"), cfg.get("seed")) != (method, tag, seed):
        return "method, preset or seed differ"
    spec = spec or get_method(method)
    if not _same_method(cfg, spec):
        return "the method's definition changed since"
    if _stored_train(cfg) != _comparable_train(spec.configure(config).to_dict()):
        return "trained with another configuration"
    if not _same_settings(cfg, spec):
        return "scored or searched with other settings (reverse validation, PCA+SVM grid)"
    if (met.get("method"), met.get("seed")) != (method, seed) or (met.get("war") is None and met.get("labelled", True)):
        return "metrics.json does not belong to this run"
    return "finished"


def _finished_runs_near(out: Path) -> list[Path]:
    """Finished runs in ``out`` if it is a method folder of a cache's runs/, or beside it if it is a run folder."""
    if out.parent.parent.name == "runs":
        method_dir = out
    elif out.parent.parent.parent.name == "runs":
        method_dir = out.parent
    else:
        return []
    return sorted(p.parent for p in method_dir.glob("*/config.json")) if method_dir.is_dir() else []


def _no_run_error(out: Path) -> SercrossError:
    from sercross.experiments.commands import run_command

    found = _finished_runs_near(out)
    why = "the folder does not exist" if not out.exists() else "it has no config.json"
    what = f"no finished run in {out}: {why}"
    if found:
        commands = []
        for p in found[:6]:
            try:
                commands.append(f"`{run_command(read_json(p / 'config.json'), 'evaluate')}`")
            except (KeyError, ValueError):
                commands.append(str(p))
        more = f" and {len(found) - 6} more in {found[0].parent}" if len(found) > 6 else ""
        return SercrossError(what, hint=f"this method's finished runs: {'; '.join(commands)}{more}")
    tag, _, seed = out.name.rpartition("-seed")
    if out.parent.parent.parent.name == "runs" and seed.isdigit():
        try:
            key = PairKey.from_dirname(out.parent.parent.name)
        except SercrossError:
            key = None
        if key is not None and not re.search(r"_(?!(e\d+|lr[0-9.eE+-]+|b\d+)(_|$))", tag):  # a tag read back whole
            cfg = {"source": key.source, "target": key.target, "classes": list(key.classes or ()),
                   "class_set": "default" if key.default else "chosen", "method": out.parent.name, "seed": int(seed),
                   "preset": tag, **({"target_set": key.target_set} if key.target_set != "shared" else {})}
            return SercrossError(what, hint=f"train it first: `{run_command(cfg)}`")
    return SercrossError(what, hint="give a run folder (<cache>/runs/SOURCE__TARGET/METHOD/TAG-seedK) or train one "
                         "with `sercross train --source A --target B` (see `sercross train --help`)")


def read_run_config(out: Path) -> dict:
    path = out / "config.json"
    if not path.is_file():
        raise _no_run_error(Path(out))
    cfg = read_json(path)
    check_meta(cfg, path, "run")
    return cfg


def run_inputs(run_config: dict, pair: Pair) -> tuple[np.ndarray, np.ndarray]:
    """The source and target features the run's model was trained on (its method's input normalisation)."""
    return model_inputs(pair, (run_config.get("method_spec") or {}).get("input_norm", "corpus"))
