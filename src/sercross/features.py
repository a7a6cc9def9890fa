"""openSMILE functionals for every labelled utterance of a corpus, cached per file and per corpus.

Per-file results are stored under a key made of the audio's content hash, the feature set and the
opensmile version, so a re-run extracts only what is new or changed, an interrupted run resumes where it
stopped, and a change of feature set or opensmile version never mixes with older values.
"""

from __future__ import annotations

import hashlib
import os
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from multiprocessing import get_context
from pathlib import Path

import numpy as np

from sercross import CACHE_VERSION, __version__
from sercross.cache import (
    atomic_write_csv,
    atomic_write_json,
    atomic_write_npy,
    check_meta,
    features_dir,
    read_csv,
    read_json,
)
from sercross.corpora import Manifest, Skipped, Utterance, scan
from sercross.errors import SercrossError

# Feature sets of the opensmile package (opensmile.FeatureSet) and their functional dimensions.
FEATURE_SETS: dict[str, int] = {
    "IS10": 1582,
    "IS09": 384,
    "eGeMAPSv02": 88,
    "emobase": 988,
    "ComParE_2016": 6373,
}
DEFAULT_FEATURE_SET = "IS10"


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


@dataclass
class ExtractSummary:
    corpus: str
    feature_set: str
    n_files: int
    n_extracted: int
    n_cached: int
    skipped: list[Skipped]
    seconds: float
    audio_seconds: float
    out_dir: Path


def opensmile_version() -> str:
    import opensmile

    return opensmile.__version__


def check_feature_set(name: str) -> str:
    if name not in FEATURE_SETS:
        raise SercrossError(
            f"unknown feature set {name!r}", hint=f"choose one of: {', '.join(FEATURE_SETS)}"
        )
    return name


def _make_smile(feature_set: str):
    import opensmile

    return opensmile.Smile(
        feature_set=getattr(opensmile.FeatureSet, feature_set),
        feature_level=opensmile.FeatureLevel.Functionals,
    )


def _extract_one(smile, path: str) -> tuple[np.ndarray | None, float, str | None]:
    """(feature vector, audio seconds, error) for one file; errors are returned, never raised."""
    from sercross.audio import TARGET_SR, load_audio

    try:
        signal = load_audio(path)
    except SercrossError as exc:
        return None, 0.0, exc.message
    except Exception as exc:  # one odd file must not end a run of thousands
        return None, 0.0, f"{path}: cannot decode ({type(exc).__name__}: {exc})"
    try:
        values = smile.process_signal(signal, TARGET_SR).to_numpy(dtype=np.float32).reshape(-1)
    except Exception as exc:
        return None, 0.0, f"{path}: openSMILE failed ({type(exc).__name__}: {exc})"
    bad = int((~np.isfinite(values)).sum())
    if bad:
        return None, 0.0, f"{path}: openSMILE returned {bad} non-finite values (NaN/inf); file left out"
    return values, len(signal) / TARGET_SR, None


# A worker process builds its extractor once and keeps it for all chunks it is sent.
_WORKER_SMILE = None


def _init_worker(feature_set: str) -> None:
    global _WORKER_SMILE
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    _WORKER_SMILE = _make_smile(feature_set)


def _extract_chunk(paths: Sequence[str]) -> list[tuple[np.ndarray | None, float, str | None]]:
    return [_extract_one(_WORKER_SMILE, p) for p in paths]


def content_key(path: Path, feature_set: str, smile_version: str) -> str:
    h = hashlib.sha1()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    h.update(f"|{feature_set}|opensmile-{smile_version}|cache-{CACHE_VERSION}".encode())
    return h.hexdigest()


def _file_store(out_dir: Path) -> Path:
    return out_dir / "files"


def _stored_path(out_dir: Path, key: str) -> Path:
    return _file_store(out_dir) / key[:2] / f"{key}.npy"


def _load_stored(path: Path, dim: int) -> np.ndarray | None:
    try:
        v = np.load(path, allow_pickle=False)
    except (OSError, ValueError):
        return None  # unreadable leftovers are simply re-extracted
    return v if v.shape == (dim,) and np.isfinite(v).all() else None


def extract_corpus(
    manifest: Manifest,
    root: Path,
    cache: Path,
    feature_set: str = DEFAULT_FEATURE_SET,
    jobs: int | None = None,
    on_progress: Callable[[int], None] | None = None,
    on_start: Callable[[int, int], None] | None = None,
) -> ExtractSummary:
    """Extract (or reuse) features of every labelled file; write the corpus matrix, index and metadata.

    ``on_start(total_to_extract, total_files)`` is called once the cached files are known,
    ``on_progress(n)`` after every n newly processed files.
    """
    check_feature_set(feature_set)
    t0 = time.perf_counter()
    index = scan(manifest, root)
    out = features_dir(cache, manifest.name, feature_set)
    dim = FEATURE_SETS[feature_set]
    version = opensmile_version()

    vectors: dict[str, np.ndarray] = {}
    keys: dict[str, str] = {}
    skipped = list(index.skipped)
    todo: list[Utterance] = []
    for u in index.utterances:
        path = root / u.file
        try:
            key = content_key(path, feature_set, version)
        except OSError as exc:
            skipped.append(Skipped(u.file, f"{path}: cannot read ({exc.strerror})"))
            continue
        keys[u.file] = key
        stored = _load_stored(_stored_path(out, key), dim)
        if stored is None:
            todo.append(u)
        else:
            vectors[u.file] = stored
    n_cached = len(vectors)
    if on_start:
        on_start(len(todo), len(index.utterances))

    audio_seconds, n_new = 0.0, 0
    for u, (vec, secs, err) in zip(todo, _run_extraction(todo, root, feature_set, jobs, on_progress)):
        if err is not None:
            skipped.append(Skipped(u.file, err))
            continue
        if vec.shape != (dim,):
            raise SercrossError(f"openSMILE {feature_set} gave {vec.size} values, expected {dim}")
        atomic_write_npy(_stored_path(out, keys[u.file]), vec)
        vectors[u.file] = vec
        audio_seconds += secs
        n_new += 1

    kept = [u for u in index.utterances if u.file in vectors]
    if not kept:
        raise SercrossError(
            f"no usable file in corpus {manifest.name!r} under {root}",
            hint="every file was skipped: see the reasons with `sercross extract ... --verbose`",
        )
    X = np.stack([vectors[u.file] for u in kept]).astype(np.float32)
    _write_table(out, manifest, root, feature_set, X, kept, skipped, version)
    return ExtractSummary(
        manifest.name, feature_set, len(index.utterances), n_new, n_cached, skipped,
        time.perf_counter() - t0, audio_seconds, out,
    )


def _run_extraction(todo, root, feature_set, jobs, on_progress):
    """Yield (vector, seconds, error) per utterance of ``todo``, in order."""
    if not todo:
        return
    jobs = max(1, jobs or os.cpu_count() or 1)
    paths = [str(root / u.file) for u in todo]
    if jobs == 1 or len(paths) < 8:
        smile = _make_smile(feature_set)
        for p in paths:
            result = _extract_one(smile, p)
            # Report before yielding: the consumer may stop iterating right after the last item.
            if on_progress:
                on_progress(1)
            yield result
        return
    # Chunks keep inter-process overhead small while still balancing the load across workers.
    size = max(1, min(32, len(paths) // (jobs * 4)))
    chunks = [paths[i : i + size] for i in range(0, len(paths), size)]
    with ProcessPoolExecutor(
        max_workers=jobs, mp_context=_mp_context(), initializer=_init_worker, initargs=(feature_set,)
    ) as pool:
        for results in pool.map(_extract_chunk, chunks):
            if on_progress:
                on_progress(len(results))
            yield from results


def _mp_context():
    # fork starts fast and works from any script, but threads of torch/OpenMP do not survive it; once torch
    # is loaded in this process, fall back to spawn (which needs callers' scripts to be import-safe).
    return get_context("spawn" if "torch" in sys.modules else "fork")


def _write_table(out, manifest, root, feature_set, X, kept, skipped, version) -> None:
    columns = _make_smile(feature_set).feature_names
    atomic_write_npy(out / "features.npy", X)
    atomic_write_csv(
        out / "index.csv", ["file", "speaker", "emotion", "native"],
        [(u.file, u.speaker, u.emotion, u.native) for u in kept],
    )
    # meta.json is written last and fingerprints the two files above, so a crash between the writes is
    # detected on load instead of pairing a new matrix with an old index.
    atomic_write_json(
        out / "meta.json",
        {
            "cache_version": CACHE_VERSION,
            "sercross_version": __version__,
            "corpus": manifest.name,
            "root": str(Path(root).resolve()),
            "feature_set": feature_set,
            "n_features": int(X.shape[1]),
            "n_utterances": int(X.shape[0]),
            "opensmile_version": version,
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "columns": list(columns),
            "skipped": [{"file": s.file, "reason": s.reason} for s in skipped],
            "fingerprint": _fingerprint(out),
        },
    )


def _fingerprint(out: Path) -> str:
    h = hashlib.sha1()
    for name in ("features.npy", "index.csv"):
        h.update((out / name).read_bytes())
    return h.hexdigest()


def load_features(cache: Path, corpus: str, feature_set: str = DEFAULT_FEATURE_SET) -> FeatureTable:
    out = features_dir(cache, corpus, feature_set)
    meta_path = out / "meta.json"
    if not meta_path.is_file():
        raise SercrossError(
            f"no {feature_set} features for corpus {corpus!r} in cache {cache}",
            hint=f"run `sercross extract {corpus} --root PATH --features {feature_set}` first",
        )
    meta = read_json(meta_path)
    check_meta(meta, meta_path, f"{feature_set} features of {corpus}", feature_set=feature_set)
    if meta.get("fingerprint") != _fingerprint(out):
        raise SercrossError(
            f"the feature files in {out} do not match their meta.json (an interrupted write?)",
            hint=f"run `sercross extract {corpus} --root PATH` again: finished files are reused",
        )
    X = np.load(out / "features.npy", allow_pickle=False)
    rows = read_csv(out / "index.csv")
    utts = [Utterance(r["file"], r["speaker"], r["emotion"], r["native"]) for r in rows]
    return FeatureTable(corpus, feature_set, X, utts, meta["columns"], meta)
