"""Where the heavy work runs: local worker processes (the default) or an existing Dask distributed cluster.

One abstraction (:class:`sercross.infra.tasks.Executor`) serves ``extract`` (a task = a chunk of audio files,
:func:`map_chunks`) and ``benchmark`` (a task = one training run, ``Executor.imap``). Both backends yield
``(key, result)`` pairs as tasks finish, so progress bars and summaries are the same; results always come back
to the calling process (the *client*), which writes them into the cache with the usual atomic writes. A cluster
therefore never needs write access to the cache, and a grid started on a cluster can be resumed locally and
vice versa.

Choosing the backend: ``scheduler`` (``--scheduler tcp://host:8786``), else ``$SERCROSS_SCHEDULER``, else local
processes. ``"local"`` forces local processes whatever the variable says. The Dask backend needs the optional
``distributed`` package (``pip install 'sercross[dask]'``); the local one needs nothing beyond the standard
library.

A worker that dies in the middle of a task (killed, out of memory, a crash in native code) loses only that
task, which is run again:

- locally (:mod:`sercross.infra.processes`), alone in a fresh process, at most
  :data:`~sercross.infra.processes.LOCAL_RETRIES` more times; after that the task is reported as failed
  (:class:`~sercross.infra.tasks.TaskFailed`);
- on Dask (:mod:`sercross.infra.cluster`), the scheduler reschedules the tasks of a dead worker on other
  workers, and reports a task as failed once more than ``distributed.scheduler.allowed-failures`` workers
  died while running it.

A task that *raises* is not retried (it would fail the same way): the exception is returned as a
:class:`~sercross.infra.tasks.TaskFailed` (by ``Executor.imap``) or re-raised (by :func:`map_chunks`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from sercross.infra.cluster import DaskExecutor
from sercross.infra.processes import LocalExecutor
from sercross.infra.system import usable_cpus
from sercross.infra.tasks import Executor

ENV_SCHEDULER = "SERCROSS_SCHEDULER"


def resolve_scheduler(scheduler: str | None = None) -> str | None:
    """The Dask scheduler address to use, or None for local processes.

    ``scheduler`` if given, else ``$SERCROSS_SCHEDULER``; empty or ``"local"`` means local processes.
    """
    value = scheduler if scheduler is not None else os.environ.get(ENV_SCHEDULER, "")
    value = value.strip()
    return None if value.lower() in ("", "local") else value


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
    :class:`~sercross.infra.tasks.WorkerDied`. Closing the iterator early stops the local workers at once.
    """
    chunks = list(chunks)
    if not chunks:
        return
    with open_executor(scheduler, jobs, mp_context=mp_context, initializer=initializer, initargs=initargs,
                       worker_env=worker_env) as ex:
        yield from ex.map(func, chunks, ordered=ordered)
