"""The in-corpus reference: speaker-independent cross-validation inside one corpus, the ceiling of a cross-corpus cell.

For a corpus and a class set, every fold holds out whole speakers: leave-one-speaker-out when the corpus has at most
:data:`MAX_LOSO_SPEAKERS` speakers, else :data:`K_FOLDS` folds of speakers (each speaker, largest first, goes to the
fold with the fewest utterances so far; ties: the lower fold). Each fold is min-max scaled on its training
speakers only (the held-out fold with the same minimum and maximum), with the same features and the same method
definitions and presets as the cross-corpus runs. Only methods that learn from labelled data alone are defined
here (:data:`INCORPUS_METHODS`): the network without adaptation and PCA+SVM (and their speaker-normalised forms).

The result is stored like a run, in ``<cache>/runs/<corpus>__<corpus>[~<classes>]/<method>/<tag>-seed<k>/``
(``~a+b+c``, classes sorted, when the class set is not the corpus's whole set): ``config.json`` (what makes the
reference: features, classes, folds, method, configuration, each fold's model SHA-1), ``metrics.json`` (WAR and UAR
as the mean over folds, each fold's, and the pooled confusion) and ``predictions.csv`` (every utterance, its fold).
"""

from __future__ import annotations

import pickle
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from sercross import CACHE_VERSION, __version__
from sercross.experiments.keys import PairKey
from sercross.experiments.scaling import speaker_normalize
from sercross.experiments.schemes import scheme_key
from sercross.features import FeatureTable
from sercross.infra import SercrossError, atomic_write_csv, atomic_write_json, read_json, sha1_bytes
from sercross.methods import DEFAULT_ALPHA, PCASVM, TrainConfig, get_method, score

INCORPUS_METHODS = ("only_cls", "pca_svm", "only_cls_spk", "pca_svm_spk")
REFERENCE_METHODS = ("only_cls", "pca_svm")  # what `benchmark --in-corpus` runs beside the grid
MAX_LOSO_SPEAKERS = 10
K_FOLDS = 5
INCORPUS_LABEL = "in-corpus"


def incorpus_scheme(corpus: str) -> str:
    """How an in-corpus reference is named in results and tables: ``casia→casia (in-corpus)``."""
    return f"{scheme_key(corpus, corpus)} ({INCORPUS_LABEL})"


def speaker_folds(speakers: Sequence[str]) -> list[np.ndarray]:
    """The held-out rows of each fold: one speaker per fold up to MAX_LOSO_SPEAKERS speakers, else K_FOLDS groups."""
    spk = np.asarray(speakers)
    names, counts = np.unique(spk, return_counts=True)
    if len(names) < 2:
        raise SercrossError(f"speaker-independent folds need at least two speakers, the corpus has {len(names)}",
                            hint="give its manifest a speaker rule or column")
    if len(names) <= MAX_LOSO_SPEAKERS:
        return [np.flatnonzero(spk == s) for s in names]
    sizes, members = [0] * K_FOLDS, [[] for _ in range(K_FOLDS)]
    for i in sorted(range(len(names)), key=lambda i: (-counts[i], names[i])):
        k = min(range(K_FOLDS), key=lambda k: (sizes[k], k))
        sizes[k] += counts[i]
        members[k].append(names[i])
    return [np.flatnonzero(np.isin(spk, m)) for m in members]


def fold_protocol(n_speakers: int) -> str:
    return ("leave-one-speaker-out" if n_speakers <= MAX_LOSO_SPEAKERS
            else f"speaker-grouped {K_FOLDS}-fold")


def scale_by_train(X_train: np.ndarray, X_test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Min-max to [0, 1] with the training rows' per-feature minimum and maximum (constant columns: 0)."""
    X_train, X_test = (np.asarray(X, np.float64) for X in (X_train, X_test))
    lo, span = X_train.min(axis=0), X_train.max(axis=0) - X_train.min(axis=0)
    ok = span > 0
    out = []
    for X in (X_train, X_test):
        Y = np.zeros_like(X)
        Y[:, ok] = (X[:, ok] - lo[ok]) / span[ok]
        out.append(Y.astype(np.float32))
    return out[0], out[1]


def incorpus_key(table: FeatureTable, classes: Sequence[str]) -> PairKey:
    """The reference's identity: the pair ``corpus→corpus`` on ``classes`` (None: the corpus's whole set)."""
    whole = set(classes) == set(table.emotions)
    return PairKey(table.corpus, table.corpus, None if whole else tuple(classes))


def incorpus_dir(cache: Path, table: FeatureTable, classes: Sequence[str], method: str, tag: str, seed: int) -> Path:
    return incorpus_key(table, classes).run_dir(Path(cache), method, tag, seed)


def _check(table: FeatureTable, classes: Sequence[str], method: str) -> None:
    if method not in INCORPUS_METHODS:
        raise SercrossError(f"{method} has no in-corpus reference",
                            hint=f"in-corpus references are defined for {', '.join(INCORPUS_METHODS)}")
    missing = [c for c in classes if c not in set(table.emotions)]
    if missing:
        raise SercrossError(f"corpus {table.corpus!r} has no utterance of class(es) {', '.join(missing)}",
                            hint=f"{table.corpus} has: {', '.join(sorted(set(table.emotions)))}")


def _identity(table: FeatureTable, classes: Sequence[str], method: str, tag: str, seed: int,
              config: TrainConfig, folds: list[np.ndarray], speakers: np.ndarray) -> dict:
    """Everything that decides the reference's numbers (compared to reuse a stored one)."""
    spec = get_method(method)
    return {
        "cache_version": CACHE_VERSION, "protocol": INCORPUS_LABEL, "corpus": table.corpus,
        "feature_set": table.feature_set, "features": table.meta.get("fingerprint"), "classes": list(classes),
        "folds": fold_protocol(len(set(speakers.tolist()))),
        "fold_speakers": [sorted(set(speakers[f].tolist())) for f in folds],
        "method": method, "method_spec": spec.fingerprint, "preset": tag, "seed": seed,
        "train": None if spec.kind != "network" else config.to_dict() | {"threads": None},
        "pca_svm": PCASVM(random_state=0).search_settings() if spec.kind == "pca_svm" else None,
        "scaling": "min-max to [0, 1] fitted on each fold's training speakers",
    }


def _fit_predict(method: str, config: TrainConfig, seed: int, Xtr, ytr, spk_tr, Xte, n_classes: int):
    """One fold: the fitted model's predictions on the held-out speakers and the model's bytes."""
    spec = get_method(method)
    if spec.kind == "pca_svm":
        est = PCASVM(random_state=seed).fit(Xtr, ytr, spk_tr)
        return est.predict(Xte), pickle.dumps(est)
    from sercross.experiments.runs import torch_bytes
    from sercross.methods import NetworkEstimator

    # The network without adaptation reads no target: its "target" is its own training fold, so nothing of the
    # held-out speakers reaches fit.
    est = NetworkEstimator(spec, config, spec.alpha or DEFAULT_ALPHA, random_state=seed)
    est.fit(Xtr, ytr, Xtr, n_classes=n_classes)
    return est.predict(Xte), torch_bytes(est)


def run_incorpus(cache: Path, table: FeatureTable, classes: Sequence[str], method: str, tag: str,
                 config: TrainConfig, seed: int, force: bool = False) -> Path:
    """The in-corpus reference of ``method`` on ``table`` restricted to ``classes``; reused when it is current.

    A method the seed does not change (``MethodSpec.seeded`` false: pca_svm) has one reference, seed 0's, that
    serves every seed, as its cross-corpus runs do (:meth:`sercross.methods.MethodSpec.run_seed`).
    """
    _check(table, classes, method)
    seed = get_method(method).run_seed(seed)
    # The class set makes a reference, not its order (a paper scheme lists its classes in Table 2's order, a
    # leave-one-corpus-out scheme in canonical order): sorted, as in the reference's folder name, so that both
    # find the same reference instead of recomputing it in turn.
    classes = tuple(sorted(classes))
    # One torch thread unless told otherwise: the thread count changes the last bits, so it must not depend on
    # the machine (the same command gives the same numbers).
    config = get_method(method).configure(replace(config, threads=config.threads or 1))
    rows = np.array([i for i, e in enumerate(table.emotions) if e in classes], dtype=np.int64)
    lookup = {c: k for k, c in enumerate(classes)}
    X, y = table.X[rows], np.array([lookup[table.emotions[i]] for i in rows], dtype=np.int64)
    speakers = np.array([table.utterances[i].speaker for i in rows])
    folds = speaker_folds(speakers)
    identity = _identity(table, classes, method, tag, seed, config, folds, speakers)
    out = incorpus_dir(cache, table, classes, method, tag, seed)
    if not force and incorpus_current(out, identity):
        return out
    pred = np.full(len(y), -1, dtype=np.int64)
    fold_of = np.full(len(y), -1, dtype=np.int64)
    per_fold, shas = [], []
    norm = get_method(method).input_norm
    for k, test in enumerate(folds):
        train = np.setdiff1d(np.arange(len(y)), test)
        Xtr, Xte = scale_by_train(X[train], X[test])
        if norm == "speaker":  # each speaker is wholly on one side, so its statistics never cross the fold
            Xtr, Xte = speaker_normalize(Xtr, speakers[train]), speaker_normalize(Xte, speakers[test])
        pred[test], model = _fit_predict(method, config, seed, Xtr, y[train], speakers[train], Xte, len(classes))
        fold_of[test] = k
        shas.append(sha1_bytes(model))
        m = score(y[test], pred[test], classes)
        per_fold.append({"fold": k, "test_speakers": sorted(set(speakers[test].tolist())),
                         "n_train": int(len(train)), "n_test": int(len(test)), "war": m["war"], "uar": m["uar"]})
    _write(out, identity, table, rows, classes, y, pred, fold_of, speakers, per_fold, shas)
    return out


def incorpus_current(out: Path, identity: dict) -> bool:
    try:
        cfg = read_json(out / "config.json")
    except (OSError, ValueError):
        return False
    return (out / "metrics.json").is_file() and cfg.get("identity") == _json(identity)


def _json(d):
    import json

    return json.loads(json.dumps(d))


def _write(out: Path, identity: dict, table: FeatureTable, rows, classes, y, pred, fold_of, speakers, per_fold,
           shas) -> None:
    for name in ("config.json", "metrics.json"):  # an interrupted rewrite never looks finished
        (out / name).unlink(missing_ok=True)
    wars, uars = [f["war"] for f in per_fold], [f["uar"] for f in per_fold]
    pooled = score(y, pred, classes)
    metrics = {
        "scheme": incorpus_scheme(table.corpus), "protocol": INCORPUS_LABEL, "folds_protocol": identity["folds"],
        "method": identity["method"], "preset": identity["preset"], "seed": identity["seed"],
        "war": float(np.mean(wars)), "uar": float(np.mean(uars)),
        "war_std_over_folds": float(np.std(wars, ddof=1)) if len(wars) > 1 else None,
        "uar_std_over_folds": float(np.std(uars, ddof=1)) if len(uars) > 1 else None,
        "per_fold": per_fold, "pooled": pooled, "classes": list(classes), "n": int(len(y)),
        "note": "war and uar: the mean over folds; pooled: one confusion over every held-out prediction",
        "evaluated": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    atomic_write_csv(out / "predictions.csv", ["file", "speaker", "fold", "true", "predicted"],
                     [(table.utterances[i].file, s, int(f), classes[t], classes[p])
                      for i, s, f, t, p in zip(rows, speakers, fold_of, y, pred)])
    atomic_write_json(out / "metrics.json", metrics)
    atomic_write_json(out / "config.json", {
        "cache_version": CACHE_VERSION, "sercross_version": __version__,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "source": table.corpus, "target": table.corpus, "feature_set": table.feature_set,
        "classes": list(classes), "class_set": "default" if incorpus_key(table, classes).default else "chosen",
        "method": identity["method"], "preset": identity["preset"],
        "seed": identity["seed"], "protocol": INCORPUS_LABEL, "fold_model_sha1": shas, "identity": identity,
        "reported_epoch": "last",
    })


def reference_rows(cache: Path, tables: dict[str, FeatureTable], columns: Sequence[tuple[str, str, Sequence[str]]],
                   methods: Sequence[str], seeds: Sequence[int], tag: str, config: TrainConfig,
                   on_run=None) -> list[dict]:
    """Result rows (like a benchmark's) of the in-corpus references beside cross-corpus columns.

    ``columns``: ``(column name, target corpus, classes)``, e.g. a scheme's name, its target and its classes: each
    row carries the column name, so the references aggregate into the same columns as the grid. A reference
    shared by several columns (same corpus and classes) is computed once. ``on_run(corpus, method, seed)``
    reports each before it is computed or reused.
    """
    rows = []
    for name, corpus, classes in columns:
        for m in methods:
            for seed in seeds:
                if on_run is not None:
                    on_run(corpus, m, seed)
                row = {"scheme": name, "target": corpus, "method": m, "seed": seed, "war": None, "uar": None,
                       "status": "failed", "error": "", "protocol": INCORPUS_LABEL}
                try:
                    out = run_incorpus(cache, tables[corpus], classes, m, tag, config, seed)
                    met = read_json(out / "metrics.json")
                    row.update(war=met["war"], uar=met["uar"], status="done", run_dir=str(out),
                               folds=met["folds_protocol"])
                except SercrossError as exc:
                    row["error"] = exc.message
                rows.append(row)
    return rows
