"""Tasks on an existing Dask distributed cluster (needs the optional ``distributed`` package).

The scheduler reschedules the tasks of a dead worker on other workers; a task during which more than
``distributed.scheduler.allowed-failures`` workers died (default 3, a setting of the scheduler) is reported as
failed. sercross gives each worker process one task at a time, so a worker's death is blamed on its own task only.

Tasks run in worker threads. Each worker process runs one sercross task at a time (a process-wide lock):
sercross's tasks use process-wide state (torch's global seed and thread count, an extractor per process), so
start workers with one thread each and as many worker processes as cores (``dask worker ADDRESS --nworkers N
--nthreads 1``). While a task runs, glibc's allocator is set back from Dask's worker setting to its usual
behaviour (see :func:`_compute_malloc`: training ran 1.5x slower without it).
"""

from __future__ import annotations

import ctypes
import os
import sys
import threading
import time
import uuid
from collections.abc import Callable
from contextlib import contextmanager
from typing import Any

from sercross.infra.errors import SercrossError
from sercross.infra.tasks import Executor, TaskFailed, raised

# Seconds to wait for the scheduler to answer, and for a first worker to join the cluster.
CONNECT_TIMEOUT = 20.0
WORKER_TIMEOUT = 60.0
# Seconds between two counts of a cluster's worker processes.
SLOTS_REFRESH = 5.0

# Worker side: one sercross task at a time per process, and the initializer of the executor whose task runs.
_TASK_LOCK = threading.Lock()
_INITIALIZED: str | None = None


def _remote_call(token: str, initializer: Callable | None, initargs: tuple, fn: Callable, args: tuple) -> Any:
    """Runs on a Dask worker: the executor's initializer once per worker process, then the task."""
    global _INITIALIZED
    with _TASK_LOCK, _compute_malloc():
        if initializer is not None and _INITIALIZED != token:
            initializer(*initargs)
            _INITIALIZED = token
        return fn(*args)


@contextmanager
def _compute_malloc():
    """glibc's allocator tuned for the task's duration as it is in an ordinary process, then as Dask had it.

    Dask's nannies start workers with ``MALLOC_TRIM_THRESHOLD_=65536``, which also freezes glibc's mmap
    threshold at 128 KiB: every freed tensor of a training step above that size goes back to the OS and the
    next one page-faults in again. Measured on this project's 2-core machine: a demo-preset TLMLDA run took
    7.4 s on a Dask worker against 4.7 s in a plain process. The thresholds are set near glibc's own dynamic
    limits while a task runs (mmap 32 MiB, trim 64 MiB) and set back to Dask's values afterwards.
    """
    trim = os.environ.get("MALLOC_TRIM_THRESHOLD_")
    mallopt = None
    if trim is not None and trim.isdigit() and sys.platform.startswith("linux"):
        try:
            mallopt = ctypes.CDLL(None).mallopt  # glibc; other C libraries have no mallopt: left alone
        except (OSError, AttributeError):
            mallopt = None
    if mallopt is None:
        yield
        return
    m_trim_threshold, m_mmap_threshold = -1, -3  # from glibc's malloc.h
    mallopt(m_mmap_threshold, 32 << 20)
    mallopt(m_trim_threshold, 64 << 20)
    try:
        yield
    finally:
        mallopt(m_mmap_threshold, 128 << 10)
        mallopt(m_trim_threshold, int(trim))


def _worker_versions() -> tuple[str, int]:
    import sercross

    return sercross.__version__, sercross.CACHE_VERSION


def _need_distributed():
    try:
        import distributed
    except ImportError:
        raise SercrossError(
            "running on a Dask cluster needs the `distributed` package",
            # (no brackets in hints: the CLI prints them as rich markup)
            hint="pip install distributed (the dask extra of sercross) — or run locally: drop --scheduler / unset "
            "SERCROSS_SCHEDULER",
        ) from None
    return distributed


class DaskExecutor(Executor):
    """Tasks on an existing Dask distributed cluster, through a client connected to ``address``.

    Functions and arguments travel by pickle: workers need the same sercross version (checked on connection)
    and its dependencies; results come back to this process.
    """

    remote = True

    def __init__(
        self,
        address: str,
        initializer: Callable | None = None,
        initargs: tuple = (),
        connect_timeout: float | None = None,
        worker_timeout: float | None = None,
    ):
        distributed = _need_distributed()
        connect_timeout = CONNECT_TIMEOUT if connect_timeout is None else connect_timeout
        worker_timeout = WORKER_TIMEOUT if worker_timeout is None else worker_timeout
        self.address, self.initializer, self.initargs = address, initializer, tuple(initargs)
        self._token = uuid.uuid4().hex  # the initializer runs once per worker process for this executor
        self._slots: tuple[int, float] | None = None  # (worker processes, when counted)
        try:
            self.client = distributed.Client(address, timeout=f"{connect_timeout}s", set_as_default=False)
        except (OSError, TimeoutError, ValueError) as exc:
            raise SercrossError(
                f"cannot reach the Dask scheduler at {address} ({type(exc).__name__}: {exc})",
                hint="check the address (e.g. tcp://host:8786) and that the scheduler runs; --scheduler local "
                "runs on this machine",
            ) from None
        try:
            self._check_workers(worker_timeout)
        except BaseException:
            self.client.close()
            raise

    def _check_workers(self, timeout: float) -> None:
        import sercross

        try:
            self.client.wait_for_workers(1, timeout=timeout)
        except TimeoutError:
            raise SercrossError(
                f"the Dask cluster at {self.address} has no worker (waited {timeout:.0f} s)",
                hint="start workers with `dask worker ADDRESS --nworkers N --nthreads 1`",
            ) from None
        try:
            versions = self.client.run(_worker_versions)
        except Exception as exc:
            raise SercrossError(
                f"workers of {self.address} cannot run sercross ({type(exc).__name__}: {exc})",
                hint="install the same sercross and its dask extra on the workers",
            ) from None
        mine = (sercross.__version__, sercross.CACHE_VERSION)
        other = {w: tuple(v) for w, v in versions.items() if tuple(v) != mine}
        if other:
            w, v = next(iter(other.items()))
            raise SercrossError(
                f"{len(other)} worker(s) of {self.address} run another sercross (e.g. {w}: version {v[0]}, cache "
                f"layout v{v[1]}; here: {mine[0]}, v{mine[1]})",
                hint="install the same sercross version on the workers and on this machine",
            )

    @property
    def slots(self) -> int:
        # Asked of the scheduler at most every few seconds (it is one round trip): workers may come and go.
        now = time.monotonic()
        if self._slots is None or now - self._slots[1] > SLOTS_REFRESH:
            self._slots = (max(1, len(self.client.nthreads())), now)  # {worker: threads}, one entry per process
        return self._slots[0]

    @property
    def description(self) -> str:
        return f"the Dask cluster at {self.address} ({self.slots} worker(s))"

    def imap(self, tasks, window=None, on_submit=None):
        distributed = _need_distributed()
        source = iter(tasks)
        inflight: dict = {}  # future -> key
        exhausted = False
        try:
            while True:
                # At most one task per worker process: a worker that dies then takes only its own task down
                # with it (the scheduler blames every task it had), and workers that join get work at once.
                limit = self.slots if window is None else max(1, int(window))
                while not exhausted and len(inflight) < limit:
                    task = next(source, None)
                    if task is None:
                        exhausted = True
                        break
                    key, fn, args = task
                    inflight[self._submit(fn, args)] = key
                    if on_submit is not None:
                        on_submit(key)
                if not inflight:
                    return
                with self.client.as_current():
                    done = distributed.wait(list(inflight), return_when="FIRST_COMPLETED").done
                for fut in done:
                    key = inflight.pop(fut)
                    yield key, self._outcome(fut, distributed)
        finally:
            if inflight:  # stopped early (an error, Ctrl-C, or the consumer had enough)
                try:
                    self.client.cancel(list(inflight), force=True)
                except Exception:
                    pass

    def _submit(self, fn: Callable, args: tuple):
        import dask

        # Arguments travel inside the task, not as scattered data: the scheduler keeps them, so a task whose
        # worker died can run elsewhere (scattered data dies with the workers that hold it). They are what one
        # task needs (at most a corpus pair, a few MB), so Dask's warning about large graphs does not apply.
        with dask.config.set({"distributed.admin.large-graph-warning-threshold": "1GB"}):
            return self.client.submit(_remote_call, self._token, self.initializer, self.initargs, fn, args,
                                      key=f"sercross-{getattr(fn, '__name__', 'task')}-{uuid.uuid4().hex}",
                                      pure=False)

    @staticmethod
    def _outcome(fut, distributed) -> Any:
        try:
            if fut.status == "finished":
                return fut.result()
            if fut.status == "cancelled":
                return TaskFailed("cancelled by the cluster (scheduler restarted or connection lost)")
            exc = fut.exception()
        except Exception as e:  # the result could not be fetched or unpickled
            exc = e
        finally:
            fut.release()
        if isinstance(exc, distributed.KilledWorker):
            return TaskFailed(f"its Dask worker died each time it ran it ({exc})", worker_died=True)
        return raised(exc)

    def close(self, cancel: bool = False) -> None:
        # Running tasks cannot be interrupted in a worker thread; cancelled ones finish and are discarded.
        self.client.close()
