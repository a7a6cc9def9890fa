"""Training a plan's unfinished runs: in local worker processes, or on a Dask cluster.

Independent runs are trained in parallel by worker processes (``spawn``: torch is loaded), each limited to
``threads`` torch / BLAS threads. Default: one single-threaded process per core (see :func:`default_jobs`).
With a Dask scheduler (``scheduler`` / ``$SERCROSS_SCHEDULER``, :mod:`sercross.infra.executor`) the runs are
trained on the cluster instead: each worker receives the pair from this process, trains into a private temporary
folder and returns the run folder's files, which this process writes into its cache (:func:`store_run`), so
workers need no access to the cache and a grid can be resumed locally after a cluster run and vice versa.

A failing run never ends the grid: it is returned as ``{"status": "failed", "error": ...}``, reported and
marked in the tables.
"""

from __future__ import annotations

import json
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, replace
from multiprocessing import get_context
from pathlib import Path

from sercross.experiments.keys import PairKey
from sercross.experiments.pairs import load_pair
from sercross.experiments.plan import Plan, RunSpec
from sercross.experiments.runs import train_run
from sercross.infra import (
    LocalExecutor,
    SercrossError,
    TaskFailed,
    atomic_write_bytes,
    open_executor,
    read_json,
    resolve_scheduler,
    usable_cpus,
)
from sercross.methods import MethodSpec, TrainConfig

# Files of a run folder that mark it finished: removed first and written last by store_run.
_FINISHING = ("config.json", "metrics.json")


def default_jobs(n_runs: int, cores: int | None = None, jobs: int | None = None) -> tuple[int, int]:
    """(worker processes, torch threads per process).

    Rule: one single-threaded process per core (``jobs`` overrides this), never more processes than runs
    to do. Cores left over (fewer runs than cores, or ``jobs`` < cores) go to each process's torch threads,
    ``cores // jobs``. Reason (measured on 2 shared cores, docs/benchmark.md): these networks are small
    (batch 100, 1582-d inputs), so intra-op threads gain little on them and lose a lot (4-5× slower) when
    other processes compete for the cores, while independent runs in separate processes do not interfere.
    """
    cores = cores or usable_cpus()
    jobs = min(cores if jobs is None else max(1, int(jobs)), max(1, n_runs))
    # The thread count changes results in the last bits (and so, over thousands of steps, the metrics), so
    # it must not depend on the machine's momentary load: the same command gives the same numbers.
    return jobs, max(1, cores // jobs)


class Reporter:
    """Receives progress events of :func:`run_benchmark`; the CLI's subclass draws a progress bar."""

    def start(self, total: int, reused: int, todo: int, jobs: int, threads: int) -> None: ...

    def run_started(self, spec: RunSpec) -> None: ...

    def run_finished(self, spec: RunSpec, result: dict) -> None: ...

    def epoch(self, spec: RunSpec, epoch: int, epochs: int) -> None: ...


@dataclass
class Outcome:
    plan: Plan
    results: dict[RunSpec, dict]  # runs trained by this call: status "done" or "failed" (with error)
    jobs: int  # local: worker processes; on a cluster: runs in flight at a time
    threads: int
    seconds: float
    scheduler: str | None = None  # the Dask scheduler's address, None for local processes

    @property
    def failures(self) -> dict[RunSpec, dict]:
        return {r: v for r, v in self.results.items() if v["status"] == "failed"}

    @property
    def where(self) -> str:
        if self.scheduler:
            return f"on the Dask cluster at {self.scheduler}, {self.jobs} run(s) at a time"
        return f"{self.jobs} process(es) × {self.threads} thread(s)"


# ------------------------------------------------------------------------------------------ one run


def _limit_threads(threads: int):
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(threads)
    return threadpool_limits(threads)


def _failure(exc: Exception, t0: float) -> dict:
    msg = exc.message if isinstance(exc, SercrossError) else f"{type(exc).__name__}: {exc}"
    return {"status": "failed", "error": msg, "traceback": traceback.format_exc(), "seconds": time.perf_counter() - t0}


@dataclass(frozen=True)
class Job:
    """What a worker needs to train one run, resolved here (a worker process may not see this process's registry
    or presets): the method definition, tag, training config, seed and how the run was asked for."""

    key: PairKey
    feature_set: str
    spec: MethodSpec
    tag: str
    config: TrainConfig
    seed: int
    recipe: dict

    @classmethod
    def of(cls, plan: Plan, run: RunSpec) -> Job:
        recipe = plan.recipe(run)
        return cls(run.key, plan.feature_set, recipe.spec, recipe.tag, recipe.config, recipe.run_seed(run.seed),
                   recipe.to_dict())


def _train(cache: Path, pair, job: Job, threads: int, on_epoch: Callable | None = None) -> Path:
    return train_run(cache, pair, job.spec, job.tag, replace(job.config, threads=threads), job.seed,
                     on_epoch=on_epoch, recipe=job.recipe)


def train_one(cache: str, job: Job, threads: int, on_epoch: Callable | None = None) -> dict:
    """Train one run of a grid (the local worker function): load the pair from the cache, train, score.

    Never raises for a failing run (except on Ctrl-C): the failure is returned, so that it is reported and
    marked in the tables rather than lost.
    """
    t0 = time.perf_counter()
    try:
        with _limit_threads(threads):
            pair = load_pair(Path(cache), job.key, feature_set=job.feature_set)
            out = _train(Path(cache), pair, job, threads, on_epoch)
            metrics = read_json(out / "metrics.json")
        return {"status": "done", "run_dir": str(out), "war": metrics["war"], "uar": metrics["uar"],
                "seconds": time.perf_counter() - t0}
    except Exception as exc:  # a failing run must not end the grid; it is reported instead
        return _failure(exc, t0)


def train_portable(pair, job: Job, threads: int) -> dict:
    """Train one run of a grid on a cluster worker: the pair comes with the task, the run folder goes back.

    The run is trained by :func:`sercross.experiments.runs.train_run` into a private temporary cache; its files
    are returned as bytes (``files``) for :func:`store_run` to write on the client. Never raises for a failing run.
    """
    import socket

    t0 = time.perf_counter()
    try:
        with _limit_threads(threads), tempfile.TemporaryDirectory(prefix="sercross-run-") as tmp:
            out = _train(Path(tmp), pair, job, threads)
            files = {p.name: p.read_bytes() for p in sorted(out.iterdir()) if p.is_file() and p.name[0] != "."}
        metrics = json.loads(files["metrics.json"])
        return {"status": "done", "files": files, "war": metrics["war"], "uar": metrics["uar"],
                "seconds": time.perf_counter() - t0, "worker": socket.gethostname()}
    except Exception as exc:
        return _failure(exc, t0)


def store_run(rdir: Path, files: dict[str, bytes]) -> None:
    """Write a run folder returned by :func:`train_portable`, each file atomically, config/metrics last.

    The files that make a run count as finished are removed first and written last, so an interruption at any
    point leaves either the previous finished run or an unfinished one, never a mix of both.
    """
    for name in files:
        if "/" in name or name.startswith("."):
            raise SercrossError(f"a worker returned a bad file name {name!r} for {rdir}")
    for name in reversed(_FINISHING):
        try:
            (rdir / name).unlink()
        except FileNotFoundError:
            pass
    order = [n for n in sorted(files) if n not in _FINISHING] + [n for n in _FINISHING if n in files]
    for name in order:
        atomic_write_bytes(rdir / name, files[name])


def _as_result(res) -> dict:
    if not isinstance(res, TaskFailed):
        return res
    return {"status": "failed", "seconds": float("nan"),
            "error": res.error + ("; out of memory?" if res.worker_died else "")}


# ------------------------------------------------------------------------------------------ the grid


def run_benchmark(
    plan: Plan,
    jobs: int | None = None,
    reporter: Reporter | None = None,
    cores: int | None = None,
    scheduler: str | None = None,
) -> Outcome:
    """Train every run of the plan that is not finished.

    Locally: ``jobs`` processes (default: :func:`default_jobs`). On the Dask cluster of ``scheduler`` (default:
    ``$SERCROSS_SCHEDULER``; ``"local"`` forces local processes): as many runs at a time as the cluster has
    worker processes (or ``jobs``), each single-threaded. Nothing connects to a cluster when every run
    is finished already.
    """
    reporter = reporter or Reporter()
    todo = plan.todo
    address = resolve_scheduler(scheduler)
    if address is not None and todo:
        return _run_remote(plan, todo, address, jobs, reporter)
    jobs, threads = default_jobs(len(todo), cores, jobs)
    reporter.start(len(plan.runs), len(plan.finished), len(todo), jobs, threads)
    t0 = time.perf_counter()
    results = _run_local(plan, todo, jobs, threads, reporter)
    return Outcome(plan, results, jobs, threads, time.perf_counter() - t0)


def _worker_init() -> None:
    # Ctrl-C reaches the workers too (same process group); the parent handles it and stops the pool.
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _run_local(plan: Plan, todo: list[RunSpec], jobs: int, threads: int, reporter: Reporter) -> dict[RunSpec, dict]:
    """Train ``todo`` here: in this process (one job or one run, with per-epoch progress) or in a pool."""
    results: dict[RunSpec, dict] = {}

    def args(spec: RunSpec) -> tuple:
        return (str(plan.cache), Job.of(plan, spec), threads)

    if jobs == 1 or len(todo) <= 1:
        for spec in todo:
            reporter.run_started(spec)
            recipe = plan.recipe(spec)
            epochs = recipe.spec.configure(recipe.config).epochs

            def on_epoch(epoch: int, row: dict, spec=spec, epochs=epochs) -> None:
                reporter.epoch(spec, epoch, epochs)

            results[spec] = train_one(*args(spec), on_epoch=on_epoch)
            reporter.run_finished(spec, results[spec])
        return results
    # torch is loaded: fork would copy its thread pools in a broken state, hence spawn.
    with LocalExecutor(jobs, get_context("spawn"), initializer=_worker_init) as ex:
        tasks = ((spec, train_one, args(spec)) for spec in todo)
        for spec, res in ex.imap(tasks, on_submit=reporter.run_started):
            results[spec] = _as_result(res)
            reporter.run_finished(spec, results[spec])
    return results


def _run_remote(plan: Plan, todo: list[RunSpec], address: str, jobs: int | None, reporter: Reporter) -> Outcome:
    """Train ``todo`` on a Dask cluster; results are written here, in the same layout as local runs."""
    threads = 1  # one core per worker process (workers: --nthreads 1)
    t0 = time.perf_counter()
    results: dict[RunSpec, dict] = {}
    with open_executor(address) as ex:
        window = ex.slots if jobs is None else max(1, int(jobs))
        reporter.start(len(plan.runs), len(plan.finished), len(todo), window, threads)
        pairs = _pairs_to_send(plan, todo)
        for spec in todo:  # a pair that could not be read fails its runs without reaching the cluster
            if isinstance(pairs[spec.key], dict):
                results[spec] = dict(pairs[spec.key], seconds=0.0)
                reporter.run_started(spec)
                reporter.run_finished(spec, results[spec])
        tasks = ((spec, train_portable, (pairs[spec.key], Job.of(plan, spec), threads))
                 for spec in todo if spec not in results)
        for spec, res in ex.imap(tasks, window=window, on_submit=reporter.run_started):
            results[spec] = _stored(plan, spec, _as_result(res))
            reporter.run_finished(spec, results[spec])
    return Outcome(plan, results, window, threads, time.perf_counter() - t0, address)


def _pairs_to_send(plan: Plan, todo: list[RunSpec]) -> dict[PairKey, object]:
    """Each pair, read here once: it travels with each of its runs (workers need no cache).

    A pair that cannot be read is a failure result instead (a dict), reported as locally.
    """
    pairs: dict[PairKey, object] = {}
    for spec in todo:
        if spec.key not in pairs:
            try:
                pairs[spec.key] = load_pair(plan.cache, spec.key, feature_set=plan.feature_set)
            except Exception as exc:
                pairs[spec.key] = _failure(exc, time.perf_counter())
    return pairs


def _stored(plan: Plan, spec: RunSpec, res: dict) -> dict:
    """A run trained on the cluster, its files written into this cache (a failure if they cannot be)."""
    if res["status"] != "done":
        return res
    rdir = plan.run_dir(spec)
    t_write = time.perf_counter()
    try:
        store_run(rdir, res.pop("files"))
        res["run_dir"] = str(rdir)
    except Exception as exc:  # e.g. the client's disk is full: this run failed here
        res = _failure(exc, t_write)
    return res
