"""Whether a run folder holds a finished run of what is asked for, or why it is stale.

A run is current when its pair, method definition, training config and the settings outside both that decide its
results (PCA+SVM's grid, the shallow methods' hyper-parameters, reverse validation's) are those asked for now. A
field a run lacks counts with the value runs had before the field existed where that value is known
(``ADDED_TRAIN_FIELDS``, ``ADDED_SPEC_KEYS``, ``_BEFORE_SETTINGS``); elsewhere the run is stale.
"""

from __future__ import annotations

import json
from pathlib import Path

from sercross import CACHE_VERSION
from sercross.infra import read_json
from sercross.methods import (
    ADDED_SPEC_KEYS,
    ADDED_TRAIN_FIELDS,
    PCASVM,
    MethodSpec,
    ShallowSettings,
    TrainConfig,
    get_method,
)
from sercross.selection import ReverseValidation

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


def baseline(seed: int) -> PCASVM:
    """The PCA+SVM baseline a run of ``seed`` fits."""
    return PCASVM(random_state=seed)


def run_settings(spec: MethodSpec) -> dict:
    """The settings of the baseline's search, the shallow methods' or the scorer's that a run of ``spec`` uses."""
    if spec.kind == "pca_svm":
        return {"pca_svm": baseline(0).search_settings()}
    if spec.kind == "shallow":
        return {"shallow": SHALLOW.to_dict(), "reverse_validation": SCORER.to_dict()}
    return {"reverse_validation": SCORER.to_dict()}


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
