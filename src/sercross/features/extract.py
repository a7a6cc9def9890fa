"""openSMILE functionals for every labelled utterance of a corpus, cached per file and per corpus.

Feature sets: those of the opensmile package listed in :data:`FEATURE_SETS` (IS10, the default, is 1582-d);
everything downstream takes the dimension from the table.

Layout of ``<cache>/features/<corpus>/<feature_set>/``:

- ``files/<xx>/<key>.npy``: openSMILE's output for one audio file, exactly as returned. ``key`` is the SHA-1 of
  the file's bytes together with the feature set, the opensmile version and ``CACHE_VERSION``, so a re-run
  extracts only new or changed audio, duplicates are extracted once, and values of another feature set, another
  opensmile version or another cache layout are never reused or mixed.
- ``stat_index.json``: absolute path, size, mtime, ctime and inode of every file of the last run → its key, so
  that unchanged files are not read and hashed again (it matters for corpora of large video clips). An entry
  is trusted only if all five match and the file's times were at least ``RACY_SECONDS`` old when it was
  recorded (a file modified within the file system's timestamp resolution could otherwise keep the same
  stat); anything else is hashed again, and a file whose content did not change (``touch``, a copied corpus)
  is then found in the store without extraction. The index is only a shortcut: deleting it costs one hash
  per file, nothing else.
- ``features.npy`` (float32, n × d), ``index.csv`` and ``meta.json``: the corpus table. ``meta.json`` is written
  last, records what the table was built from (versions, root, columns, skipped files with reasons) and the
  SHA-1 of the bytes of the other two, so a table whose parts do not belong together is refused on load.

Speed: files are extracted by ``jobs`` worker processes (default: the CPUs this process may use), each building
its openSMILE extractor once, with OpenMP/BLAS limited to one thread, and sent up to ``MAX_CHUNK`` files at a
time. Workers are forked (cheap, and they share the modules imported here) unless torch is loaded, then spawned.

Interruption and concurrency: every file is written under a temporary name and renamed into place, so nothing
half-written is ever read, and each finished file is stored as soon as its result arrives (in completion
order), so a run interrupted at any point (Ctrl-C, SIGKILL, power loss) keeps what was finished and the next
run completes the rest; its table is identical to that of an uninterrupted run. Worker processes ignore
SIGINT (the parent cancels what is pending and stops them) and exit by themselves if their parent dies. The
table is written under an exclusive ``flock`` on ``.lock`` in the feature folder and read under a shared one,
so two runs on the same cache both finish and leave a consistent table (the last writer's); per-file writes
need no lock, as concurrent writers of one key write the same values.

Bad audio never stops a run: a file that cannot be read or decoded, is empty, silent or too short is left out
and listed with its reason in the summary and in ``meta.json`` (``skipped``). **Non-finite values**: if
openSMILE returns NaN or ±inf in any feature of a file, the file is left out of the table in the same way
(reason: ``openSMILE returned k of d values non-finite (NaN/inf); file left out``) and counted in
``ExtractSummary.n_nonfinite``; nothing is imputed. Its raw output stays in the store, so re-runs report it
again without extracting it again.
"""

from __future__ import annotations

import functools
import io
import json
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from datetime import datetime, timezone
from multiprocessing import get_context
from pathlib import Path

import numpy as np

from sercross import CACHE_VERSION, __version__
from sercross.corpora import Manifest, Skipped, Utterance, scan
from sercross.infra import (
    SercrossError,
    WorkerDied,
    atomic_write_bytes,
    atomic_write_json,
    check_meta,
    ensure_writable_dir,
    features_dir,
    file_lock,
    open_executor,
    read_json,
    remove_stale_temps,
    resolve_scheduler,
    sha1_bytes,
    sha1_file,
    usable_cpus,
)

# Feature sets of the opensmile package (opensmile.FeatureSet) and their functional dimensions.
FEATURE_SETS: dict[str, int] = {
    "IS10": 1582,
    "IS09": 384,
    "eGeMAPSv02": 88,
    "emobase": 988,
    "ComParE_2016": 6373,
}
DEFAULT_FEATURE_SET = "IS10"

STAT_INDEX = "stat_index.json"
LOCK_FILE = ".lock"
# stat entries younger than this are not trusted (see the module docstring); 2 s covers FAT's resolution.
RACY_SECONDS = 2.0
# Below this many files to extract, a worker pool costs more than it saves.
MIN_PARALLEL_FILES = 8
# Files per task sent to a worker: large enough to amortise inter-process overhead (~1 ms per task against
# ~50-100 ms of openSMILE per file), small enough to balance the load and lose little on interruption.
MAX_CHUNK = 8
# Thread-count variables of OpenMP/BLAS libraries: workers are processes, one core each.
_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS",
                "VECLIB_MAXIMUM_THREADS")


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
    n_files: int  # labelled files found
    n_extracted: int  # files run through openSMILE in this run
    n_cached: int  # files whose values were already in the store
    skipped: list[Skipped]  # left out of the table, with reasons (unlabelled, unreadable, silent, NaN, ...)
    seconds: float
    audio_seconds: float  # duration of the audio extracted in this run
    out_dir: Path
    n_rows: int = 0  # utterances in the table written
    n_nonfinite: int = 0  # files left out because openSMILE returned NaN/inf (also listed in skipped)
    n_hashed: int = 0  # files whose content was read and hashed (the others were known from the stat index)
    jobs: int = 1  # worker processes used (1: in this process)

    @property
    def files_per_second(self) -> float:
        return self.n_extracted / self.seconds if self.seconds > 0 else 0.0


def opensmile_version() -> str:
    # The installed distribution's version: the same string as opensmile.__version__, without the ~0.7 s
    # import, which a fully cached run does not otherwise need.
    try:
        from importlib.metadata import version

        return version("opensmile")
    except Exception:
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
    """(openSMILE's values, audio seconds, error) for one file; errors are returned, never raised.

    Non-finite values are returned as they are: the policy for them is applied by the caller.
    """
    from sercross.corpora import TARGET_SR, load_audio

    try:
        signal_ = load_audio(path)
    except SercrossError as exc:
        # The reason is listed next to the file's name in the corpus, so without load_audio's path prefix.
        return None, 0.0, exc.message.removeprefix(f"{path}: ")
    except Exception as exc:  # one odd file must not end a run of thousands
        return None, 0.0, f"cannot decode ({type(exc).__name__}: {exc})"
    try:
        values = smile.process_signal(signal_, TARGET_SR).to_numpy(dtype=np.float32).reshape(-1)
    except Exception as exc:
        return None, 0.0, f"openSMILE failed ({type(exc).__name__}: {exc})"
    return values, len(signal_) / TARGET_SR, None


def _nonfinite_reason(values: np.ndarray) -> str | None:
    bad = int((~np.isfinite(values)).sum())
    if not bad:
        return None
    return f"openSMILE returned {bad} of {values.size} values non-finite (NaN/inf); file left out"


# ---------------------------------------------------------------------------------------------------------------
# worker processes


# A worker process builds its extractor once and keeps it for all chunks it is sent.
_WORKER_SMILE = None
_WORKER_SENT_COLUMNS = False


def _init_worker(feature_set: str, parent: int, forked: bool) -> None:
    global _WORKER_SMILE
    # The parent stops workers itself (on Ctrl-C, it cancels what is pending and terminates them): a worker
    # that raised KeyboardInterrupt would only report it as a task result and go on with the next chunk.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if forked:
        # A thread of the parent (a progress bar redrawing) may have held the lock of sys.stderr/stdout at the
        # fork; the worker's copy of that lock is then never released, and flushing the streams at exit would
        # hang. Fresh stream objects on the same descriptors have fresh locks.
        for name, fd in (("stdout", 1), ("stderr", 2)):
            try:
                setattr(sys, name, open(fd, "w", buffering=1, closefd=False))
            except OSError:
                pass
    for var in _THREAD_VARS:
        os.environ.setdefault(var, "1")
    try:  # libraries already loaded (inherited through fork) no longer read the variables above
        from threadpoolctl import threadpool_limits

        threadpool_limits(1)
    except Exception:
        pass
    threading.Thread(target=_exit_with_parent, args=(parent,), daemon=True, name="watch-parent").start()
    _WORKER_SMILE = _make_smile(feature_set)


def _exit_with_parent(parent: int) -> None:
    # A worker whose parent was killed (SIGKILL, OOM killer) would otherwise wait for work forever.
    while True:
        time.sleep(0.5)
        if os.getppid() != parent:
            os._exit(1)


def _init_remote_worker(feature_set: str, version: str) -> None:
    """The initializer on a Dask worker: a process sercross does not own (no signal handler, no parent watch)."""
    global _WORKER_SMILE, _WORKER_SENT_COLUMNS
    if opensmile_version() != version:  # stored values are keyed by the client's opensmile version
        raise SercrossError(f"a Dask worker has opensmile {opensmile_version()}, this machine {version}",
                            hint="install the same opensmile version on the workers")
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)
    _WORKER_SMILE, _WORKER_SENT_COLUMNS = _make_smile(feature_set), False


def _extract_chunk(paths: Sequence[str]) -> tuple[list[tuple[np.ndarray | None, float, str | None]], list | None]:
    """Results for ``paths``, plus the feature names on a worker's first chunk (the parent needs them once)."""
    global _WORKER_SENT_COLUMNS
    results = [_extract_one(_WORKER_SMILE, p) for p in paths]
    columns = None
    if not _WORKER_SENT_COLUMNS:
        columns, _WORKER_SENT_COLUMNS = list(_WORKER_SMILE.feature_names), True
    return results, columns


def _mp_context():
    # fork starts fast and works from any script, but threads of torch/OpenMP do not survive it; once torch
    # is loaded in this process, fall back to spawn (which needs callers' scripts to be import-safe).
    return get_context("spawn" if "torch" in sys.modules else "fork")


def _chunk_size(n: int, jobs: int) -> int:
    return max(1, min(MAX_CHUNK, n // (jobs * 8)))


class _Extraction:
    """Runs openSMILE over ``paths`` and yields ``(position, (values, seconds, error))`` as results arrive."""

    def __init__(self, paths: Sequence[str], feature_set: str, jobs: int, on_progress=None, scheduler=None):
        self.paths, self.feature_set, self.on_progress = list(paths), feature_set, on_progress
        self.scheduler = resolve_scheduler(scheduler)  # a Dask scheduler's address, or None: local processes
        self.jobs = 1 if len(self.paths) < MIN_PARALLEL_FILES else max(1, min(jobs, len(self.paths)))
        self.columns: list[str] | None = None

    def __iter__(self) -> Iterator[tuple[int, tuple[np.ndarray | None, float, str | None]]]:
        if not self.paths:
            return
        if self.jobs == 1 and self.scheduler is None:
            smile = _make_smile(self.feature_set)
            self.columns = list(smile.feature_names)
            for i, p in enumerate(self.paths):
                result = _extract_one(smile, p)
                # Report before yielding: the consumer may stop iterating right after the last item.
                if self.on_progress:
                    self.on_progress(1)
                yield i, result
            return
        if self.scheduler is not None:
            executor = open_executor(self.scheduler, initializer=_init_remote_worker,
                                     initargs=(self.feature_set, opensmile_version()))
        else:
            context = _mp_context()
            if context.get_start_method() == "fork":
                # Imported once here, forked workers share these modules instead of each importing them
                # (~1 s of CPU per worker: opensmile and its dependencies, scipy.signal).
                import opensmile  # noqa: F401

                import sercross.corpora.audio  # noqa: F401
            executor = open_executor(
                "local", self.jobs, mp_context=context, initializer=_init_worker,
                initargs=(self.feature_set, os.getpid(), context.get_start_method() == "fork"),
                worker_env={v: "1" for v in _THREAD_VARS},  # seen by a spawned worker's libraries as they load
            )
        # Leaving the block early (an error, Ctrl-C, the consumer stopped) stops the local workers at once.
        with executor:
            self.jobs = executor.slots
            size = _chunk_size(len(self.paths), self.jobs)
            chunks = [list(range(i, min(i + size, len(self.paths)))) for i in range(0, len(self.paths), size)]
            try:
                for c, (results, columns) in executor.map(_extract_chunk, [[self.paths[i] for i in c] for c in chunks]):
                    if columns is not None and self.columns is None:
                        self.columns = columns
                    if self.on_progress:
                        self.on_progress(len(results))
                    yield from zip(chunks[c], results)
            except WorkerDied as exc:  # its worker died on every attempt (the executor runs a chunk 3 times)
                raise SercrossError(
                    "an extraction worker process died (killed, out of memory, or openSMILE crashed)",
                    hint="run the command again: finished files are kept; if it dies again at the same "
                    "point, one file crashes openSMILE: find it with --jobs 1",
                ) from exc


# ---------------------------------------------------------------------------------------------------------------
# the per-file store and the stat index


def content_key(path: Path, feature_set: str, smile_version: str) -> str:
    return sha1_file(path, f"|{feature_set}|opensmile-{smile_version}|cache-{CACHE_VERSION}".encode())


def _stored_path(out_dir: Path, key: str) -> str:
    return os.path.join(out_dir, "files", key[:2], f"{key}.npy")  # str: built thousands of times per run


def _store(out_dir: Path, key: str, values: np.ndarray) -> None:
    atomic_write_bytes(Path(_stored_path(out_dir, key)), _npy_bytes(values))


@functools.cache
def _npy_header(dim: int) -> bytes:
    """The exact .npy header :func:`_store` writes for a float32 vector of ``dim`` values."""
    return _npy_bytes(np.zeros(dim, np.float32))[: -4 * dim]


def _load_stored(path: Path | str, dim: int) -> np.ndarray | None:
    """A stored vector of the right shape (possibly with NaN/inf: openSMILE's output as it was), else None."""
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError:
        return None  # not extracted yet
    # Fast path for the files this module writes (a fully cached run reads thousands): compare the header bytes
    # instead of parsing them. Anything else goes through np.load and its checks.
    header = _npy_header(dim)
    if len(data) == len(header) + 4 * dim and data.startswith(header):
        return np.frombuffer(data, dtype=np.float32, offset=len(header)).copy()
    try:
        v = np.load(io.BytesIO(data), allow_pickle=False)
    except (OSError, ValueError, EOFError):
        return None  # an unreadable leftover: extracted again
    if not isinstance(v, np.ndarray) or v.shape != (dim,) or v.dtype != np.float32:
        return None
    return v


def _stat_salt(feature_set: str, version: str) -> dict:
    return {"cache_version": CACHE_VERSION, "feature_set": feature_set, "opensmile_version": version}


def _read_stat_index(path: Path, salt: dict) -> dict[str, list]:
    try:
        data = read_json(path)
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or any(data.get(k) != v for k, v in salt.items()):
        return {}  # another version or feature set: its keys would not apply
    entries = data.get("entries")
    return entries if isinstance(entries, dict) else {}


def _content_keys(
    out: Path, root: Path, utterances: Sequence[Utterance], feature_set: str, version: str
) -> tuple[dict[str, str], list[Skipped], int]:
    """Key of every readable file (from the stat index when it can be trusted), unreadable files, files hashed."""
    salt = _stat_salt(feature_set, version)
    index_path = out / STAT_INDEX
    old = _read_stat_index(index_path, salt)
    new: dict[str, list] = {}
    keys: dict[str, str] = {}
    unreadable: list[Skipped] = []
    hashed = 0
    for u in utterances:
        path = os.path.join(root, u.file)
        name = os.path.abspath(path)
        try:
            st = os.stat(path)
            sig = [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino]
            entry = old.get(name)
            if isinstance(entry, list) and len(entry) == 5 and entry[:4] == sig:
                key = entry[4]
            else:
                key = content_key(path, feature_set, version)
                hashed += 1
        except OSError as exc:
            unreadable.append(Skipped(u.file, f"{path}: cannot read ({exc.strerror or exc})"))
            continue
        keys[u.file] = key
        # A file changed again within the timestamp resolution could keep this stat: keep such entries out of
        # the index (they are hashed again next time) until their times are safely in the past.
        if time.time_ns() - max(st.st_mtime_ns, st.st_ctime_ns) >= RACY_SECONDS * 1e9:
            new[name] = sig + [key]
    if new != old:
        atomic_write_json(index_path, dict(salt, entries=new))
    return keys, unreadable, hashed


# ---------------------------------------------------------------------------------------------------------------
# extraction of a corpus


def extract_corpus(
    manifest: Manifest,
    root: Path,
    cache: Path,
    feature_set: str = DEFAULT_FEATURE_SET,
    jobs: int | None = None,
    on_progress: Callable[[int], None] | None = None,
    on_start: Callable[[int, int], None] | None = None,
    scheduler: str | None = None,
) -> ExtractSummary:
    """Extract (or reuse) features of every labelled file; write the corpus matrix, index and metadata.

    ``jobs``: worker processes (default: every CPU this process may use). ``on_start(to_extract, total)`` is
    called once the cached files are known (counts of distinct readable files: duplicates are extracted once),
    ``on_progress(n)`` after every n newly processed files, in completion order.
    """
    check_feature_set(feature_set)
    t0 = time.perf_counter()
    root = Path(root)
    index = scan(manifest, root)
    out = features_dir(cache, manifest.name, feature_set)
    ensure_writable_dir(out)  # a read-only cache fails here, before minutes of extraction
    remove_stale_temps(out, recursive_depth=2)
    dim = FEATURE_SETS[feature_set]
    version = opensmile_version()

    keys, unreadable, n_hashed = _content_keys(out, root, index.utterances, feature_set, version)
    raw: dict[str, np.ndarray] = {}  # key -> openSMILE's values
    todo: dict[str, Utterance] = {}  # key -> first utterance with that content
    for u in index.utterances:
        key = keys.get(u.file)
        if key is None or key in raw or key in todo:
            continue
        stored = _load_stored(_stored_path(out, key), dim)
        if stored is None:
            todo[key] = u
        else:
            raw[key] = stored
    n_cached = sum(1 for k in keys.values() if k in raw)
    if on_start:  # counted in distinct contents, so that total - to_extract is what the cache already has
        on_start(len(todo), len(todo) + len(raw))

    failed: dict[str, str] = {}  # key -> reason
    audio_seconds = 0.0
    todo_keys = list(todo)
    extraction = _Extraction([str(root / todo[k].file) for k in todo_keys], feature_set,
                             jobs or usable_cpus(), on_progress, scheduler)
    with closing(iter(extraction)) as results:
        for i, (values, secs, err) in results:
            key = todo_keys[i]
            if err is not None:
                failed[key] = err
                continue
            if values.shape != (dim,):
                raise SercrossError(f"openSMILE {feature_set} gave {values.size} values, expected {dim}")
            _store(out, key, values)
            raw[key] = values
            audio_seconds += secs

    skipped = list(index.skipped) + unreadable
    kept: list[Utterance] = []
    n_nonfinite = 0
    for u in index.utterances:
        key = keys.get(u.file)
        if key is None:
            continue
        if key in failed:
            skipped.append(Skipped(u.file, failed[key]))
            continue
        reason = _nonfinite_reason(raw[key])
        if reason:
            skipped.append(Skipped(u.file, reason))
            n_nonfinite += 1
            continue
        kept.append(u)
    if not kept:
        shown = "; ".join(f"{sk.file}: {sk.reason}" for sk in skipped[:5])
        more = f" (and {len(skipped) - 5} more)" if len(skipped) > 5 else ""
        raise SercrossError(
            f"no usable file in corpus {manifest.name!r} under {root}: all {len(skipped)} were skipped. "
            f"{shown}{more}",
            hint=f"check that --root points at the corpus as downloaded (`sercross corpora check {manifest.name} "
            "--root PATH` lists what it finds)",
        )
    X = np.stack([raw[keys[u.file]] for u in kept]).astype(np.float32, copy=False)
    columns = extraction.columns or _known_columns(out, feature_set, version) or _make_smile(feature_set).feature_names
    _write_table(out, manifest, root, feature_set, X, kept, skipped, version, list(columns))
    n_extracted = sum(1 for k in keys.values() if k in todo and k not in failed)
    return ExtractSummary(
        manifest.name, feature_set, len(index.utterances), n_extracted, n_cached, skipped,
        time.perf_counter() - t0, audio_seconds, out, len(kept), n_nonfinite, n_hashed, extraction.jobs,
    )


def _known_columns(out: Path, feature_set: str, version: str) -> list[str] | None:
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


def _npy_bytes(a: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, a, allow_pickle=False)
    return buf.getvalue()


def _index_bytes(utterances: Sequence[Utterance]) -> bytes:
    import csv

    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["file", "speaker", "emotion", "native"])
    writer.writerows((u.file, u.speaker, u.emotion, u.native) for u in utterances)
    return buf.getvalue().encode("utf-8")


def _write_table(out, manifest, root, feature_set, X, kept, skipped, version, columns) -> None:
    npy, csv_ = _npy_bytes(X), _index_bytes(kept)
    meta = {
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
        "nonfinite_policy": "files with NaN/inf values are left out and listed in skipped",
        "skipped": [{"file": s.file, "reason": s.reason} for s in skipped],
        # The bytes written below, not what is on disk afterwards: a concurrent writer cannot be mixed in.
        "fingerprint": _fingerprint_bytes(npy, csv_),
    }
    # Concurrent runs on one cache take turns here, so the three files always come from the same run.
    # meta.json is written last: a crash between the writes leaves a table that load_features refuses.
    with file_lock(out / LOCK_FILE):
        atomic_write_bytes(out / "features.npy", npy)
        atomic_write_bytes(out / "index.csv", csv_)
        atomic_write_json(out / "meta.json", meta)


def write_derived_table(cache: Path, name: str, table: FeatureTable, rows: Sequence[int], derivation: dict) -> Path:
    """Write the ``rows`` of ``table`` as the feature table of a corpus of its own, ``name`` (no audio is read).

    For corpora derived from a cached one (e.g. bench/confound.py's speaker-confounded variants); ``derivation``
    says how, and is stored in meta.json beside the usual fields.
    """
    out = ensure_writable_dir(features_dir(cache, name, table.feature_set))
    kept = [table.utterances[i] for i in rows]
    X = np.ascontiguousarray(table.X[list(rows)])
    npy, csv_ = _npy_bytes(X), _index_bytes(kept)
    meta = {k: v for k, v in table.meta.items() if k not in ("skipped", "fingerprint")}
    meta.update(corpus=name, n_utterances=int(X.shape[0]), skipped=[], derivation=derivation,
                created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
                fingerprint=_fingerprint_bytes(npy, csv_))
    with file_lock(out / LOCK_FILE):
        atomic_write_bytes(out / "features.npy", npy)
        atomic_write_bytes(out / "index.csv", csv_)
        atomic_write_json(out / "meta.json", meta)
    return out


def _fingerprint_bytes(npy: bytes, csv_: bytes) -> str:
    return sha1_bytes(npy, csv_)


def _fingerprint(out: Path) -> str:
    return _fingerprint_bytes((out / "features.npy").read_bytes(), (out / "index.csv").read_bytes())


# ---------------------------------------------------------------------------------------------------------------
# loading


def load_features(cache: Path, corpus: str, feature_set: str = DEFAULT_FEATURE_SET) -> FeatureTable:
    out = features_dir(cache, corpus, feature_set)
    meta_path = out / "meta.json"
    rerun = f"run `sercross extract {corpus} --root PATH --features {feature_set}`"
    if not meta_path.is_file():
        raise SercrossError(
            f"no {feature_set} features for corpus {corpus!r} in cache {cache}",
            hint=f"{rerun} first",
        )
    # A shared lock: a concurrent extraction cannot replace the files between the reads below.
    with file_lock(out / LOCK_FILE, shared=True):
        try:
            meta = json.loads(meta_path.read_bytes())
            npy, csv_ = (out / "features.npy").read_bytes(), (out / "index.csv").read_bytes()
        except FileNotFoundError as exc:
            raise SercrossError(f"{exc.filename} is missing", hint=f"{rerun} again: finished files are reused") from exc
        except ValueError as exc:
            raise SercrossError(f"{meta_path} is not valid JSON", hint=f"{rerun} again") from exc
    try:
        check_meta(meta, meta_path, f"{feature_set} features of {corpus}", feature_set=feature_set)
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
    rows = list(_csv_rows(csv_))
    if X.ndim != 2 or X.shape != (len(rows), meta.get("n_features")) or len(meta.get("columns", ())) != X.shape[1]:
        raise SercrossError(
            f"the feature table in {out} has shape {X.shape}, its meta.json says "
            f"({len(rows)}, {meta.get('n_features')})",
            hint=f"{rerun} again",
        )
    utts = [Utterance(r["file"], r["speaker"], r["emotion"], r["native"]) for r in rows]
    return FeatureTable(corpus, feature_set, X, utts, meta["columns"], meta)


def _csv_rows(data: bytes):
    import csv

    return csv.DictReader(io.StringIO(data.decode("utf-8"), newline=""))
