"""What every executor shares: a task, the result of a task that did not produce one, and the Executor interface.

The backends are :class:`sercross.infra.processes.LocalExecutor` (local worker processes) and
:class:`sercross.infra.cluster.DaskExecutor` (a Dask distributed cluster); :mod:`sercross.infra.executor` picks one.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sercross.infra.errors import SercrossError

Task = tuple[Hashable, Callable, tuple]  # (key, function, positional arguments)


@dataclass
class TaskFailed:
    """The result of a task that did not produce one: it raised, or its worker died too often."""

    error: str
    worker_died: bool = False
    exception: BaseException | None = None  # what the task raised (None if its worker died)


def raised(exc: BaseException) -> TaskFailed:
    """The result of a task that raised ``exc``."""
    return TaskFailed(f"{type(exc).__name__}: {exc}", exception=exc)


class WorkerDied(SercrossError):
    """A task's worker process died every time it was run (see :mod:`sercross.infra.executor`)."""


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
