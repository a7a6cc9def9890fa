"""Running openSMILE over many files: in this process, in local worker processes, or on a Dask cluster.

Files are extracted by ``jobs`` worker processes, each building its openSMILE extractor once, with OpenMP/BLAS
limited to one thread, and sent up to ``MAX_CHUNK`` files at a time. Workers are forked (cheap, and they share
the modules imported here) unless torch is loaded, then spawned. Worker processes ignore SIGINT (the parent
cancels what is pending and stops them) and exit by themselves if their parent dies. Errors of one file are
returned with its result, never raised: one odd file must not end a run of thousands.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from multiprocessing import get_context

import numpy as np

from sercross.features.feature_sets import opensmile_version
from sercross.infra import SercrossError, WorkerDied, open_executor, resolve_scheduler

# Below this many files to extract, a worker pool costs more than it saves.
MIN_PARALLEL_FILES = 8
# Files per task sent to a worker: large enough to amortise inter-process overhead (~1 ms per task against
# ~50-100 ms of openSMILE per file), small enough to balance the load and lose little on interruption.
MAX_CHUNK = 8
# Thread-count variables of OpenMP/BLAS libraries: workers are processes, one core each.
_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS",
                "VECLIB_MAXIMUM_THREADS")

Result = tuple[np.ndarray | None, float, str | None]  # openSMILE's values, audio seconds, error


def make_smile(feature_set: str):
    """openSMILE's extractor of ``feature_set``'s functionals (one value per feature per file)."""
    import opensmile

    return opensmile.Smile(
        feature_set=getattr(opensmile.FeatureSet, feature_set),
        feature_level=opensmile.FeatureLevel.Functionals,
    )


def extract_one(smile, path: str) -> Result:
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


# ---------------------------------------------------------------------------------------------------------------
# inside a worker process


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
    _WORKER_SMILE = make_smile(feature_set)


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
    _WORKER_SMILE, _WORKER_SENT_COLUMNS = make_smile(feature_set), False


def _extract_chunk(paths: Sequence[str]) -> tuple[list[Result], list | None]:
    """Results for ``paths``, plus the feature names on a worker's first chunk (the parent needs them once)."""
    global _WORKER_SENT_COLUMNS
    results = [extract_one(_WORKER_SMILE, p) for p in paths]
    columns = None
    if not _WORKER_SENT_COLUMNS:
        columns, _WORKER_SENT_COLUMNS = list(_WORKER_SMILE.feature_names), True
    return results, columns


# ---------------------------------------------------------------------------------------------------------------
# in the parent


def _mp_context():
    # fork starts fast and works from any script, but threads of torch/OpenMP do not survive it; once torch
    # is loaded in this process, fall back to spawn (which needs callers' scripts to be import-safe).
    return get_context("spawn" if "torch" in sys.modules else "fork")


def _chunk_size(n: int, jobs: int) -> int:
    return max(1, min(MAX_CHUNK, n // (jobs * 8)))


def _preload_for_fork() -> None:
    # Imported once here, forked workers share these modules instead of each importing them (~1 s of CPU per
    # worker: opensmile and its dependencies, soundfile, scipy.signal for resampling).
    import opensmile  # noqa: F401
    import scipy.signal  # noqa: F401
    import soundfile  # noqa: F401

    import sercross.corpora.audio  # noqa: F401


class Extraction:
    """Runs openSMILE over ``paths`` and yields ``(position, (values, seconds, error))`` as results arrive.

    ``on_progress(n)`` is called after every ``n`` files, before their results are yielded; ``columns`` holds
    openSMILE's feature names once a result has arrived; ``jobs`` the processes (or Dask slots) used.
    """

    def __init__(self, paths: Sequence[str], feature_set: str, jobs: int, on_progress=None, scheduler=None):
        self.paths, self.feature_set, self.on_progress = list(paths), feature_set, on_progress
        self.scheduler = resolve_scheduler(scheduler)  # a Dask scheduler's address, or None: local processes
        self.jobs = 1 if len(self.paths) < MIN_PARALLEL_FILES else max(1, min(jobs, len(self.paths)))
        self.columns: list[str] | None = None

    def __iter__(self) -> Iterator[tuple[int, Result]]:
        if not self.paths:
            return
        if self.jobs == 1 and self.scheduler is None:
            yield from self._in_this_process()
        else:
            yield from self._in_workers()

    def _in_this_process(self) -> Iterator[tuple[int, Result]]:
        smile = make_smile(self.feature_set)
        self.columns = list(smile.feature_names)
        for i, p in enumerate(self.paths):
            result = extract_one(smile, p)
            # Report before yielding: the consumer may stop iterating right after the last item.
            if self.on_progress:
                self.on_progress(1)
            yield i, result

    def _open_executor(self):
        if self.scheduler is not None:
            return open_executor(self.scheduler, initializer=_init_remote_worker,
                                 initargs=(self.feature_set, opensmile_version()))
        context = _mp_context()
        forked = context.get_start_method() == "fork"
        if forked:
            _preload_for_fork()
        return open_executor(
            "local", self.jobs, mp_context=context, initializer=_init_worker,
            initargs=(self.feature_set, os.getpid(), forked),
            worker_env={v: "1" for v in _THREAD_VARS},  # seen by a spawned worker's libraries as they load
        )

    def _in_workers(self) -> Iterator[tuple[int, Result]]:
        # Leaving the block early (an error, Ctrl-C, the consumer stopped) stops the local workers at once.
        with self._open_executor() as executor:
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
