"""A corpus's feature table: ``features.npy`` (float32, n × d), ``index.csv`` and ``meta.json``, written and loaded.

``meta.json`` is written last, records what the table was built from (versions, root, columns, skipped files with
reasons) and the SHA-1 of the bytes of the other two, so a table whose parts do not belong together is refused on
load. The table is written under an exclusive ``flock`` on ``.lock`` in the feature folder and read under a shared
one, so two runs on the same cache both finish and leave a consistent table (the last writer's).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from sercross import CACHE_VERSION, __version__
from sercross.corpora import Manifest, Skipped, Utterance
from sercross.features.feature_sets import DEFAULT_FEATURE_SET, FEATURE_SETS
from sercross.features.store import npy_bytes
from sercross.infra import (
    SercrossError,
    atomic_write_bytes,
    atomic_write_json,
    check_meta,
    ensure_writable_dir,
    features_dir,
    file_lock,
    read_json,
    sha1_bytes,
)

LOCK_FILE = ".lock"


@dataclass
class FeatureTable:
    corpus: str
    feature_set: str
    X: np.ndarray  # (n_utterances, n_features) float32
    utterances: list[Utterance]
    columns: list[str]
    meta: dict = field(default_factory=dict)

    @property
    def emotions(self) -> list[str]:
        return [u.emotion for u in self.utterances]

    @property
    def labelled(self) -> bool:
        """Whether any utterance has an emotion (a corpus without any is an unlabelled target only)."""
        return any(u.emotion for u in self.utterances)


def _index_bytes(utterances: Sequence[Utterance]) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["file", "speaker", "emotion", "native"])
    writer.writerows((u.file, u.speaker, u.emotion, u.native) for u in utterances)
    return buf.getvalue().encode("utf-8")


def _fingerprint_bytes(npy: bytes, csv_: bytes) -> str:
    return sha1_bytes(npy, csv_)


def _fingerprint(out: Path) -> str:
    """The fingerprint ``meta.json`` must record for the table files in ``out``."""
    return _fingerprint_bytes((out / "features.npy").read_bytes(), (out / "index.csv").read_bytes())


def _write_files(out: Path, npy: bytes, csv_: bytes, meta: dict) -> None:
    # Concurrent runs on one cache take turns here, so the three files always come from the same run.
    # meta.json is written last: a crash between the writes leaves a table that load_features refuses.
    with file_lock(out / LOCK_FILE):
        atomic_write_bytes(out / "features.npy", npy)
        atomic_write_bytes(out / "index.csv", csv_)
        atomic_write_json(out / "meta.json", meta)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def write_table(out: Path, manifest: Manifest, root: Path, feature_set: str, X: np.ndarray,
                kept: Sequence[Utterance], skipped: Sequence[Skipped], version: str, columns: Sequence[str]) -> None:
    """Write the table of ``manifest``'s corpus: the rows ``X`` of the utterances ``kept``."""
    npy, csv_ = npy_bytes(X), _index_bytes(kept)
    meta = {
        "cache_version": CACHE_VERSION,
        "sercross_version": __version__,
        "corpus": manifest.name,
        "root": str(Path(root).resolve()),
        "feature_set": feature_set,
        "n_features": int(X.shape[1]),
        "n_utterances": int(X.shape[0]),
        "opensmile_version": version,
        "created": _now(),
        "columns": list(columns),
        "nonfinite_policy": "files with NaN/inf values are left out and listed in skipped",
        "skipped": [{"file": s.file, "reason": s.reason} for s in skipped],
        "labelled": any(u.emotion for u in kept),
        # The bytes written below, not what is on disk afterwards: a concurrent writer cannot be mixed in.
        "fingerprint": _fingerprint_bytes(npy, csv_),
    }
    _write_files(out, npy, csv_, meta)


def write_derived_table(cache: Path, name: str, table: FeatureTable, rows: Sequence[int], derivation: dict) -> Path:
    """Write the ``rows`` of ``table`` as the feature table of a corpus of its own, ``name`` (no audio is read).

    For corpora derived from a cached one (e.g. bench/confound.py's speaker-confounded variants); ``derivation``
    says how, and is stored in meta.json beside the usual fields.
    """
    out = ensure_writable_dir(features_dir(cache, name, table.feature_set))
    kept = [table.utterances[i] for i in rows]
    X = np.ascontiguousarray(table.X[list(rows)])
    npy, csv_ = npy_bytes(X), _index_bytes(kept)
    meta = {k: v for k, v in table.meta.items() if k not in ("skipped", "fingerprint")}
    meta.update(corpus=name, n_utterances=int(X.shape[0]), skipped=[], derivation=derivation,
                created=_now(), fingerprint=_fingerprint_bytes(npy, csv_))
    _write_files(out, npy, csv_, meta)
    return out


def known_columns(out: Path, feature_set: str, version: str) -> list[str] | None:
    """Feature names from the previous table of this feature set and opensmile version (saves building one)."""
    try:
        meta = read_json(out / "meta.json")
    except (OSError, ValueError):
        return None
    cols = meta.get("columns") if isinstance(meta, dict) else None
    same = isinstance(meta, dict) and (meta.get("cache_version"), meta.get("feature_set"),
                                       meta.get("opensmile_version")) == (CACHE_VERSION, feature_set, version)
    if same and isinstance(cols, list) and len(cols) == FEATURE_SETS[feature_set]:
        return cols
    return None


# ---------------------------------------------------------------------------------------------------------------
# loading


def load_features(cache: Path, corpus: str, feature_set: str = DEFAULT_FEATURE_SET) -> FeatureTable:
    out = features_dir(cache, corpus, feature_set)
    rerun = f"run `sercross extract {corpus} --root PATH --features {feature_set}`"
    meta, npy, csv_ = _read_files(out, cache, corpus, feature_set, rerun)
    try:
        check_meta(meta, out / "meta.json", f"{feature_set} features of {corpus}", feature_set=feature_set)
    except SercrossError as exc:
        raise SercrossError(
            exc.message,
            hint=f"{rerun}: it rebuilds the table (values of another version or feature set are never reused)",
        ) from exc
    if meta.get("fingerprint") != _fingerprint_bytes(npy, csv_):
        raise SercrossError(
            f"the feature files in {out} do not match their meta.json (an interrupted write?)",
            hint=f"{rerun} again: finished files are reused",
        )
    X = np.load(io.BytesIO(npy), allow_pickle=False)
    rows = list(csv.DictReader(io.StringIO(csv_.decode("utf-8"), newline="")))
    if X.ndim != 2 or X.shape != (len(rows), meta.get("n_features")) or len(meta.get("columns", ())) != X.shape[1]:
        raise SercrossError(
            f"the feature table in {out} has shape {X.shape}, its meta.json says "
            f"({len(rows)}, {meta.get('n_features')})",
            hint=f"{rerun} again",
        )
    utts = [Utterance(r["file"], r["speaker"], r["emotion"], r["native"]) for r in rows]
    return FeatureTable(corpus, feature_set, X, utts, meta["columns"], meta)


def _read_files(out: Path, cache: Path, corpus: str, feature_set: str, rerun: str) -> tuple[dict, bytes, bytes]:
    """meta.json (parsed), features.npy and index.csv (bytes), read together under the shared lock."""
    meta_path = out / "meta.json"
    if not meta_path.is_file():
        raise SercrossError(f"no {feature_set} features for corpus {corpus!r} in cache {cache}", hint=f"{rerun} first")
    # A shared lock: a concurrent extraction cannot replace the files between the reads below.
    with file_lock(out / LOCK_FILE, shared=True):
        try:
            meta = json.loads(meta_path.read_bytes())
            return meta, (out / "features.npy").read_bytes(), (out / "index.csv").read_bytes()
        except FileNotFoundError as exc:
            raise SercrossError(f"{exc.filename} is missing", hint=f"{rerun} again: finished files are reused") from exc
        except ValueError as exc:
            raise SercrossError(f"{meta_path} is not valid JSON", hint=f"{rerun} again") from exc
