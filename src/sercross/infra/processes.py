"""Local worker processes: a small pool built on ``multiprocessing``'s public API (processes, pipes, sentinels).

Each worker process has a pipe of its own and runs one task at a time, so when a worker dies (killed, out of
memory, a crash in native code) its process sentinel says which one, and so which task was lost with it; the
other running tasks go on. The lost task is run again *alone* (nothing else runs beside it: if memory ran out,
it now has the machine to itself), at most ``retries`` more times, then reported as failed
(:class:`~sercross.infra.tasks.TaskFailed` with ``worker_died``). A task that raises is not retried.

Stopping early (an error, Ctrl-C, a consumer that stops iterating) terminates the workers at once instead of
waiting for the tasks they run. A worker whose parent was killed exits when its pipe closes: at once when idle,
after its task when busy. (A forked worker also holds copies of the pipes of workers forked before it, so those
exit only after it; an initializer that must not wait that long watches the parent itself.)
"""

from __future__ import annotations

import atexit
import os
import pickle
import traceback
from collections import deque
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from multiprocessing.connection import wait
from typing import Any

from sercross.infra.tasks import Executor, Task, TaskFailed, raised

# A task whose local worker process died is run again (alone) at most this many times, then reported.
LOCAL_RETRIES = 2
# Seconds a worker gets to exit after being asked to, before it is killed.
STOP_TIMEOUT = 5.0


class RemoteTraceback(Exception):
    """The traceback of an exception raised in a worker process, chained as the exception's cause."""

    def __init__(self, text: str):
        super().__init__(text)
        self.text = text

    def __str__(self) -> str:
        return f'\n"""\n{self.text}"""'


# ------------------------------------------------------------------------------------------ worker side


def _serve(conn, parent_end, initializer: Callable | None, initargs: tuple) -> None:
    """A worker process: run the tasks the parent sends, one at a time, until told to stop or orphaned."""
    parent_end.close()  # a forked worker's copy of the parent's end: the pipe must close when the parent dies
    init_error = None
    if initializer is not None:
        try:
            initializer(*initargs)
        except Exception as exc:  # every task sent here then fails with it (as on Dask), none is lost
            init_error = _raised_reply(exc)
    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError):
            return  # the parent is gone
        except Exception as exc:  # the task could not be rebuilt here (e.g. its function is not importable)
            reply = _raised_reply(exc)
        else:
            if task is None:
                return
            reply = init_error or _run(*task)
        if not _send_reply(conn, reply):
            return


def _run(fn: Callable, args: tuple) -> tuple:
    try:
        return ("done", fn(*args), None)
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # SystemExit too: the task failed, the worker goes on
        return _raised_reply(exc)


def _raised_reply(exc: BaseException) -> tuple:
    return ("raised", exc, "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)))


def _send_reply(conn, reply: tuple) -> bool:
    """Send ``reply`` to the parent (a stand-in error if it cannot be pickled); False if the parent is gone."""
    try:
        conn.send(reply)
    except (BrokenPipeError, ConnectionError, EOFError):
        return False
    except Exception as exc:  # pickling failed: nothing was sent
        what = "result" if reply[0] == "done" else f"exception ({type(reply[1]).__name__}: {reply[1]})"
        stand_in = RuntimeError(f"the task's {what} could not be sent back: {type(exc).__name__}: {exc}")
        try:
            conn.send(("raised", stand_in, reply[2] or ""))
        except OSError:
            return False
    return True


# ------------------------------------------------------------------------------------------ parent side


_DIED = object()  # what a worker answered when it died before answering


class _Worker:
    """One worker process and the parent's end of its pipe."""

    def __init__(self, mp_context, initializer: Callable | None, initargs: tuple):
        self.conn, child_end = mp_context.Pipe(duplex=True)
        self.process = mp_context.Process(target=_serve, args=(child_end, self.conn, initializer, initargs),
                                          name="sercross-worker")
        self.process.start()
        child_end.close()  # only the child holds it now: its death closes the pipe

    def send(self, fn: Callable, args: tuple) -> BaseException | None:
        """Send a task; returns the exception if it cannot be pickled (the worker then stays idle)."""
        try:
            self.conn.send((fn, args))
        except OSError:
            pass  # the worker died: its sentinel reports it, and the task counts as lost with it
        except Exception as exc:
            return exc
        return None

    def receive(self) -> Any:
        """The task's result, a TaskFailed if it raised, or ``_DIED`` if the worker died before answering."""
        try:
            if not self.conn.poll():
                return _DIED
            data = self.conn.recv_bytes()
        except (EOFError, OSError):
            return _DIED
        try:
            status, value, tb = pickle.loads(data)
        except Exception as exc:  # e.g. the result's class cannot be imported here
            return raised(exc)
        if status == "done":
            return value
        if tb:
            value.__cause__ = RemoteTraceback(tb)
        return raised(value)

    def ask_to_stop(self) -> None:
        try:
            self.conn.send(None)
        except OSError:
            pass

    def terminate(self) -> None:
        if self.process.is_alive():
            self.process.terminate()

    def reap(self) -> None:
        """Wait for the process to end (killed if it does not), then release its resources."""
        self.process.join(STOP_TIMEOUT)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()
        self.conn.close()
        self.process.close()


@contextmanager
def _environment(defaults: dict[str, str] | None):
    """Set (setdefault) environment variables while worker processes start, then restore them."""
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


@dataclass
class _Progress:
    """The state of one :meth:`LocalExecutor.imap` call."""

    source: Iterator[Task]
    limit: int
    on_submit: Callable[[Hashable], None] | None
    running: dict[_Worker, Task] = field(default_factory=dict)
    again: deque[Task] = field(default_factory=deque)  # tasks whose worker died, to run again (alone)
    deaths: dict[Hashable, int] = field(default_factory=dict)
    exhausted: bool = False

    def next_task(self) -> Task | None:
        """The task that may start now, if any: a task whose worker died runs alone."""
        if any(self.deaths.get(t[0]) for t in self.running.values()):
            return None
        if self.again:
            return None if self.running else self.again.popleft()
        if self.exhausted or len(self.running) >= self.limit:
            return None
        task = next(self.source, None)
        self.exhausted = task is None
        return task


class LocalExecutor(Executor):
    """A pool of at most ``jobs`` local worker processes, started as tasks need them.

    ``mp_context``: a multiprocessing context (default: ``spawn``, safe once torch is loaded). ``initializer
    (*initargs)`` runs once in each worker process. ``worker_env``: environment variables set (if not already
    set) while worker processes start, e.g. thread counts of OpenMP/BLAS that must be known before those
    libraries load. ``retries``: how many more times a task whose worker died is run.
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
        self._workers: list[_Worker] = []  # every live worker
        self._idle: list[_Worker] = []

    @property
    def slots(self) -> int:
        return self.jobs

    @property
    def description(self) -> str:
        return f"{self.jobs} local process(es)"

    def imap(self, tasks, window=None, on_submit=None):
        limit = self.jobs if window is None else max(1, min(int(window), self.jobs))
        progress = _Progress(iter(tasks), limit, on_submit)
        try:
            while True:
                yield from self._start_tasks(progress)
                if not progress.running:
                    return
                yield from self._finished_tasks(progress)
        finally:
            # Stopped early (an error, Ctrl-C, or the consumer had enough): nobody waits for these results.
            self._stop(list(progress.running), cancel=True)

    def _start_tasks(self, progress: _Progress) -> Iterator[tuple[Hashable, TaskFailed]]:
        """Send every task that may start now; yields those that could not be sent."""
        while (task := progress.next_task()) is not None:
            key, fn, args = task
            worker = self._idle_worker()
            error = worker.send(fn, args)
            if progress.on_submit is not None and not progress.deaths.get(key):  # once per task, not per retry
                progress.on_submit(key)
            if error is None:
                progress.running[worker] = task
            else:  # its arguments could not be pickled: a failure of the task, not of the worker
                self._idle.append(worker)
                yield key, raised(error)

    def _finished_tasks(self, progress: _Progress) -> Iterator[tuple[Hashable, Any]]:
        """Wait until a running task ends; yield its result, or run it again (or fail it) if its worker died."""
        running = progress.running
        ready = set(wait([w.conn for w in running] + [w.process.sentinel for w in running]))
        for worker in [w for w in running if w.conn in ready or w.process.sentinel in ready]:
            task = running.pop(worker)
            value = worker.receive()
            if value is not _DIED:
                self._idle.append(worker)
                yield task[0], value
                continue
            self._stop([worker], cancel=True)
            deaths = progress.deaths[task[0]] = progress.deaths.get(task[0], 0) + 1
            if deaths > self.retries:
                yield task[0], TaskFailed(f"its worker process died {deaths} times while running it "
                                          "(killed, out of memory, or a crash in native code)", worker_died=True)
            else:
                progress.again.append(task)

    def _idle_worker(self) -> _Worker:
        """A live idle worker, started if there is none (callers never need more than ``jobs`` at a time)."""
        while self._idle:
            worker = self._idle.pop()
            if worker.process.is_alive():
                return worker
            self._stop([worker], cancel=True)  # it died while idle
        with _environment(self.worker_env):  # seen by the new process as it starts
            worker = _Worker(self.mp_context, self.initializer, self.initargs)
        if not self._workers:
            atexit.register(self._at_exit)
        self._workers.append(worker)
        return worker

    def _stop(self, workers: list[_Worker], cancel: bool) -> None:
        """Stop ``workers``: at once (``cancel``), else once they have finished what they run."""
        workers = [w for w in workers if w in self._workers]  # not those stopped already
        for w in workers:
            if cancel:
                w.terminate()
            else:
                w.ask_to_stop()
        for w in workers:
            w.reap()
            self._workers.remove(w)
            if w in self._idle:
                self._idle.remove(w)
        if not self._workers:
            atexit.unregister(self._at_exit)

    def _at_exit(self) -> None:
        # Runs before multiprocessing joins its child processes at exit, which would wait for idle workers forever.
        self._stop(list(self._workers), cancel=True)

    def close(self, cancel: bool = False) -> None:
        self._stop(list(self._workers), cancel)
