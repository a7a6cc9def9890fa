"""Where the heavy work runs: local worker processes (the default) or an existing Dask distributed cluster.

One abstraction serves ``extract`` (a task = a chunk of audio files, :func:`map_chunks`) and ``benchmark``
(a task = one training run, :meth:`Executor.imap`). Both backends yield ``(key, result)`` pairs as tasks
finish, so progress bars and summaries are the same; results always come back to the calling process (the
*client*), which writes them into the cache with the usual atomic writes. A cluster therefore never needs
write access to the cache, and a grid started on a cluster can be resumed locally and vice versa.

Choosing the backend: ``scheduler`` (``--scheduler tcp://host:8786``), else ``$SERCROSS_SCHEDULER``, else local
processes. ``"local"`` forces local processes whatever the variable says. The Dask backend needs the optional
``distributed`` package (``pip install 'sercross[dask]'``); the local one needs nothing beyond the standard
library.

A worker that dies in the middle of a task (killed, out of memory, a crash in native code) loses only that
task, which is run again:

- locally, the tasks that were in the dead pool are run again in a fresh pool, each one *alone* (a pool gives
  no way to tell which of its processes died, so a suspect never shares a pool with another task), at most
  :data:`LOCAL_RETRIES` more times; after that the task is reported as failed (:class:`TaskFailed`);
- on Dask, the scheduler reschedules the tasks of a dead worker on other workers; a task during which more
  than ``distributed.scheduler.allowed-failures`` workers died (default 3, a setting of the scheduler) is
  reported as failed. sercross gives each worker process one task at a time, so a worker's death is blamed
  on its own task only.

A task that *raises* is not retried (it would fail the same way): the exception is returned as a
:class:`TaskFailed` (by :meth:`Executor.imap`) or re-raised (by :func:`map_chunks`).

On Dask, tasks run in worker threads. Each worker process runs one sercross task at a time (a process-wide
lock): sercross's tasks use process-wide state (torch's global seed and thread count, an extractor per process),
so start workers with one thread each and as many worker processes as cores (``dask worker ADDRESS --nworkers
N --nthreads 1``). While a task runs, glibc's allocator is set back from Dask's worker setting to its usual
behaviour (see :func:`_compute_malloc`: training ran 1.5x slower without it).
"""

from __future__ import annotations

import ctypes
import os
import sys
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sercross.infra.errors import SercrossError
from sercross.infra.system import usable_cpus

ENV_SCHEDULER = "SERCROSS_SCHEDULER"
# A task whose local worker process died is run again (alone) at most this many times, then reported.
LOCAL_RETRIES = 2
# Seconds to wait for the scheduler to answer, and for a first worker to join the cluster.
CONNECT_TIMEOUT = 20.0
WORKER_TIMEOUT = 60.0
# Seconds between two counts of a cluster's worker processes.
SLOTS_REFRESH = 5.0

Task = tuple[Hashable, Callable, tuple]  # (key, function, positional arguments)


def resolve_scheduler(scheduler: str | None = None) -> str | None:
    """The Dask scheduler address to use, or None for local processes.

    ``scheduler`` if given, else ``$SERCROSS_SCHEDULER``; empty or ``"local"`` means local processes.
    """
    value = scheduler if scheduler is not None else os.environ.get(ENV_SCHEDULER, "")
    value = value.strip()
    return None if value.lower() in ("", "local") else value


@dataclass
class TaskFailed:
    """The result of a task that did not produce one: it raised, or its worker died too often."""

    error: str
    worker_died: bool = False
    exception: BaseException | None = None  # what the task raised (None if its worker died)


class WorkerDied(SercrossError):
    """A task's worker process died every time it was run (see the module docstring)."""


class Executor:
    """Runs tasks somewhere and yields their results as they finish. Use as a context manager."""

    remote = False

    @property
    def slots(self) -> int:
        """How many tasks run at the same time (local: processes; Dask: worker processes of the cluster)."""
        raise NotImplementedError

    @property
    def description(self) -> str:
        raise NotImplementedError

    def imap(
        self, tasks: Iterable[Task], window: int | None = None, on_submit: Callable[[Hashable], None] | None = None
    ) -> Iterator[tuple[Hashable, Any]]:
        """Run ``(key, fn, args)`` tasks; yield ``(key, fn(*args))`` in completion order, or ``(key, TaskFailed)``.

        ``tasks`` is consumed lazily: at most ``window`` tasks are submitted and not finished at any time
        (default: :attr:`slots`, so a submitted task is a running one). ``on_submit(key)`` is called when a task
        is first submitted. Keys must be hashable and distinct. Arguments are sent with each task.
        """
        raise NotImplementedError

    def map(self, fn: Callable, items: Sequence, ordered: bool = False) -> Iterator[tuple[int, Any]]:
        """``(i, fn(items[i]))`` as tasks finish (in input order with ``ordered``).

        A task that raised re-raises here; one whose worker kept dying raises :class:`WorkerDied`.
        """
        results: dict[int, Any] = {}
        nxt = 0
        for i, value in self.imap(((i, fn, (item,)) for i, item in enumerate(items)), window=None):
            if isinstance(value, TaskFailed):
                if value.exception is not None:
                    raise value.exception
                raise WorkerDied(f"task {i} of {len(items)} could not finish: {value.error}",
                                 hint="run the command again: finished work is kept")
            if not ordered:
                yield i, value
                continue
            results[i] = value
            while nxt in results:
                yield nxt, results.pop(nxt)
                nxt += 1

    def close(self, cancel: bool = False) -> None:
        """Release the workers; ``cancel``: stop what is running now instead of waiting for it."""

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close(cancel=exc_type is not None)


# ------------------------------------------------------------------------------------------------- local


@contextmanager
def _environment(defaults: dict[str, str] | None):
    """Set (setdefault) environment variables while worker processes may be started, then restore them."""
    if not defaults:
        yield
        return
    saved = {k: os.environ.get(k) for k in defaults}
    for k, v in defaults.items():
        os.environ.setdefault(k, v)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _terminate_pool(pool: ProcessPoolExecutor) -> None:
    """Cancel pending work and stop the worker processes now (not after the tasks they are running)."""
    terminate = getattr(pool, "terminate_workers", None)  # Python >= 3.14
    if terminate is not None:
        terminate()
        return
    # Before Python 3.14 there is no public way; shutdown() forgets the processes, so take them first.
    procs = list((getattr(pool, "_processes", None) or {}).values())
    manager = getattr(pool, "_executor_manager_thread", None)
    pool.shutdown(wait=False, cancel_futures=True)
    for proc in procs:
        try:
            proc.terminate()
        except Exception:
            pass
    # The pool's manager thread notices the dead workers and reaps them (joining here too would race with it).
    if manager is not None:
        manager.join(timeout=10)


class LocalExecutor(Executor):
    """A pool of ``jobs`` local worker processes (``concurrent.futures.ProcessPoolExecutor``).

    ``mp_context``: a multiprocessing context (default: ``spawn``, safe once torch is loaded). ``initializer
    (*initargs)`` runs once in each worker process. ``worker_env``: environment variables set (if not already
    set) while worker processes start, e.g. thread counts of OpenMP/BLAS that must be known before those
    libraries load.
    """

    def __init__(
        self,
        jobs: int,
        mp_context=None,
        initializer: Callable | None = None,
        initargs: tuple = (),
        worker_env: dict[str, str] | None = None,
        retries: int = LOCAL_RETRIES,
    ):
        if mp_context is None:
            from multiprocessing import get_context

            mp_context = get_context("spawn")
        self.jobs = max(1, int(jobs))
        self.mp_context, self.initializer, self.initargs = mp_context, initializer, tuple(initargs)
        self.worker_env, self.retries = worker_env, retries
        self._pool: ProcessPoolExecutor | None = None
        self._generation = 0

    @property
    def slots(self) -> int:
        return self.jobs

    @property
    def description(self) -> str:
        return f"{self.jobs} local process(es)"

    def _submit(self, fn: Callable, args: tuple):
        """(future, generation of the pool it went to); a pool found broken (a worker died while idle) is replaced."""
        with _environment(self.worker_env):  # processes start inside submit
            for _ in range(2):
                if self._pool is None:
                    self._pool = ProcessPoolExecutor(self.jobs, mp_context=self.mp_context,
                                                     initializer=self.initializer, initargs=self.initargs)
                    self._generation += 1
                try:
                    return self._pool.submit(fn, *args), self._generation
                except BrokenProcessPool:
                    self._discard_pool()
            raise BrokenProcessPool("worker processes die as soon as they start")

    def _discard_pool(self) -> None:
        if self._pool is not None:
            _terminate_pool(self._pool)
            self._pool = None

    def imap(self, tasks, window=None, on_submit=None):
        source = iter(tasks)
        limit = self.jobs if window is None else max(1, min(int(window), self.jobs))
        again: deque[Task] = deque()  # tasks whose worker died, to run again (alone)
        deaths: dict[Hashable, int] = {}
        inflight: dict = {}  # future -> (task, generation of its pool)
        exhausted = False
        while True:
            while True:  # submit what may run now
                if any(deaths.get(t[0]) for t, _ in inflight.values()):
                    break  # a suspect runs alone
                if again:
                    if inflight:
                        break
                    task = again.popleft()
                elif not exhausted and len(inflight) < limit:
                    task = next(source, None)
                    if task is None:
                        exhausted = True
                        break
                else:
                    break
                fut, gen = self._submit(task[1], task[2])
                inflight[fut] = (task, gen)
                if on_submit is not None and not deaths.get(task[0]):
                    on_submit(task[0])
            if not inflight:
                return
            done, _ = wait(inflight, return_when=FIRST_COMPLETED)
            broken: set[int] = set()
            for fut in done:
                try:
                    value = fut.result()
                except BrokenProcessPool:
                    broken.add(inflight[fut][1])  # dealt with below, with the other tasks of the dead pool
                    continue
                except Exception as exc:  # the task raised (or its arguments could not be sent)
                    value = TaskFailed(f"{type(exc).__name__}: {exc}", exception=exc)
                task, _ = inflight.pop(fut)
                yield task[0], value
            if not broken:
                continue
            # A pool died: every task still in it failed with it (its manager thread marks them promptly).
            lost = {f: t for f, (t, g) in inflight.items() if g in broken}
            wait(lost, timeout=10)
            for fut, task in lost.items():
                del inflight[fut]
                if fut.done() and not fut.cancelled() and fut.exception() is None:
                    yield task[0], fut.result()  # it finished just before the pool broke
                    continue
                deaths[task[0]] = deaths.get(task[0], 0) + 1
                if deaths[task[0]] > self.retries:
                    yield task[0], TaskFailed(
                        f"its worker process died {deaths[task[0]]} times while running it "
                        "(killed, out of memory, or a crash in native code)",
                        worker_died=True,
                    )
                else:
                    again.append(task)
            if self._generation in broken:
                self._discard_pool()

    def close(self, cancel: bool = False) -> None:
        if self._pool is None:
            return
        if cancel:
            self._discard_pool()
        else:
            self._pool.shutdown(wait=True)
            self._pool = None


# -------------------------------------------------------------------------------------------------- Dask

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
        return TaskFailed(f"{type(exc).__name__}: {exc}", exception=exc)

    def close(self, cancel: bool = False) -> None:
        # Running tasks cannot be interrupted in a worker thread; cancelled ones finish and are discarded.
        self.client.close()


# ------------------------------------------------------------------------------------------------ public


def open_executor(
    scheduler: str | None = None,
    jobs: int | None = None,
    *,
    mp_context=None,
    initializer: Callable | None = None,
    initargs: tuple = (),
    worker_env: dict[str, str] | None = None,
) -> Executor:
    """A :class:`DaskExecutor` if a scheduler is given (or in ``$SERCROSS_SCHEDULER``), else a local pool.

    ``jobs`` (local processes; default: the CPUs this process may use), ``mp_context`` and ``worker_env``
    apply to the local pool only; ``initializer(*initargs)`` runs once per worker process on either backend.
    On Dask the initializer runs in a worker thread of a process sercross does not own: it must not install
    signal handlers or assume it is a child of this process.
    """
    address = resolve_scheduler(scheduler)
    if address is not None:
        return DaskExecutor(address, initializer, initargs)
    if jobs is None:
        jobs = usable_cpus()
    return LocalExecutor(jobs, mp_context, initializer, initargs, worker_env)


def map_chunks(
    func: Callable,
    chunks: Iterable,
    initializer: Callable | None = None,
    initargs: tuple = (),
    scheduler: str | None = None,
    jobs: int | None = None,
    mp_context=None,
    worker_env: dict[str, str] | None = None,
    ordered: bool = False,
) -> Iterator[tuple[int, Any]]:
    """``(i, func(chunks[i]))`` for every chunk, as they finish (in input order with ``ordered``).

    Local processes, or the Dask cluster of ``scheduler`` / ``$SERCROSS_SCHEDULER`` (see :func:`open_executor`).
    A chunk whose function raised re-raises here; one whose worker died on every attempt raises
    :class:`WorkerDied`. Closing the iterator early stops the local workers at once.
    """
    chunks = list(chunks)
    if not chunks:
        return
    with open_executor(scheduler, jobs, mp_context=mp_context, initializer=initializer, initargs=initargs,
                       worker_env=worker_env) as ex:
        yield from ex.map(func, chunks, ordered=ordered)
