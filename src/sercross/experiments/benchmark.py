"""Grids of runs (schemes × methods × seeds): planning, resume, parallel execution and aggregation.

A benchmark is a plain list of runs, each of which is an ordinary run folder
(``<cache>/runs/<source>__<target>/<method>/<preset>-seed<k>/``, written by
:func:`sercross.experiments.runs.train_run`).
A run whose ``metrics.json`` exists and whose ``config.json`` matches what the grid would train (same pair,
method, preset tag, seed and training configuration, the torch thread count aside) is finished and never
trained again, so an interrupted benchmark resumes by running the same command.

Independent runs are trained in parallel by worker processes (``spawn``: torch is loaded), each limited to
``threads`` torch / BLAS threads. Default: one single-threaded process per core (see :func:`default_jobs`).
With a Dask scheduler (``scheduler`` / ``$SERCROSS_SCHEDULER``, :mod:`sercross.infra.executor`) the runs are trained on
the cluster instead: each worker receives the pair from this process, trains into a private temporary folder
and returns the run folder's files, which this process writes into its cache (:func:`store_run`), so workers
need no access to the cache and a grid can be resumed locally after a cluster run and vice versa.

Aggregation (:func:`aggregate`) gives, per method and scheme, the mean and the *sample* standard deviation
(ddof = 1) over seeds, in percent; rendering is in :mod:`sercross.experiments.tables`.
"""

from __future__ import annotations

import json
import math
import tempfile
import time
import traceback
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from itertools import permutations
from multiprocessing import get_context
from pathlib import Path

import numpy as np

from sercross.experiments.pairs import PAPER_CLASSES, default_classes, load_pair
from sercross.experiments.runs import run_state, train_run
from sercross.features import DEFAULT_FEATURE_SET, FeatureTable, check_feature_set, load_features
from sercross.infra import (
    LocalExecutor,
    SercrossError,
    TaskFailed,
    atomic_write_bytes,
    atomic_write_csv,
    features_dir,
    open_executor,
    read_csv,
    read_json,
    resolve_scheduler,
    run_dir,
    usable_cpus,
)
from sercross.methods import METHODS, PAPER_METHODS, TrainConfig, get_method, get_preset, preset_tag

# The paper's six schemes (section 3.1), in the column order of its Tables 3 and 4.
PAPER_SCHEMES: tuple[tuple[str, str], ...] = (
    ("enterface", "berlin"),
    ("berlin", "enterface"),
    ("enterface", "casia"),
    ("casia", "enterface"),
    ("berlin", "casia"),
    ("casia", "berlin"),
)
# The paper's one-letter corpus names; accepted in --schemes even when a corpus has no manifest yet.
PAPER_SHORT: dict[str, str] = {"berlin": "B", "enterface": "E", "casia": "C"}
# A scheme outside the paper's three pairs needs at least this many shared classes.
MIN_SHARED_CLASSES = 3
BENCHMARKS_DIR = "benchmarks"

RESULTS_HEADER = (
    "scheme", "source", "target", "method", "preset", "seed", "war", "uar", "run_dir",
    "status", "error", "oracle_war", "oracle_epoch", "reverse_validation_uar", "predicted_classes",
)


# --------------------------------------------------------------------------------------------- parsing


def scheme_label(source: str, target: str) -> str:
    """``E→B`` for the paper's corpora, else ``source→target``."""
    if source in PAPER_SHORT and target in PAPER_SHORT:
        return f"{PAPER_SHORT[source]}→{PAPER_SHORT[target]}"
    return f"{source}→{target}"


def parse_schemes(text: str | None) -> list[tuple[str, str]]:
    """``"ravdess:casia,B:C"`` -> ``[("ravdess", "casia"), ("B", "C")]`` (names as typed; ``->``, ``→`` too)."""
    if not text:
        return []
    schemes = []
    for item in (s.strip() for s in text.split(",")):
        if not item:
            continue
        for sep in (":", "->", "→"):
            if sep in item:
                a, b = (x.strip() for x in item.split(sep, 1))
                break
        else:
            a = b = ""
        if not a or not b:
            raise SercrossError(
                f"cannot read scheme {item!r}", hint="write schemes as SOURCE:TARGET, comma-separated, e.g. B:C,E:B"
            )
        schemes.append((a, b))
    return schemes


def parse_seeds(text: str | int | None, default: int = 5) -> tuple[int, ...]:
    """``"5"`` -> seeds 0..4 (a count); ``"0,3,7"`` -> those seeds; ``"2-4"`` -> 2, 3, 4."""
    if text is None or str(text).strip() == "":
        return tuple(range(default))
    s = str(text).strip()
    try:
        if "," in s:
            seeds = [int(x) for x in s.split(",") if x.strip()]
        elif "-" in s.lstrip("-"):
            lo, hi = (int(x) for x in s.split("-", 1))
            seeds = list(range(lo, hi + 1))
        else:
            n = int(s)
            if n == 0:
                raise SercrossError("--seeds 0 asks for no run: a single number is a count of seeds",
                                    hint="for seed 0 alone give --seeds 1 (or the range 0-0)")
            if n < 1:
                raise ValueError
            seeds = list(range(n))
    except ValueError:
        raise SercrossError(
            f"cannot read seeds {s!r}",
            hint="give a count (5 = seeds 0..4), a list (0,3,7) or a range (2-4)",
        ) from None
    seeds = list(dict.fromkeys(seeds))
    if not seeds or any(k < 0 for k in seeds):
        raise SercrossError(f"seeds must be non-negative integers, got {s!r}", hint="e.g. --seeds 5 or --seeds 0,1")
    return tuple(seeds)


# Names that stand for several methods in --methods (a method's own name never collides with them).
METHOD_GROUPS: dict[str, tuple[str, ...]] = {
    "paper": PAPER_METHODS,
    "da": tuple(m for m, spec in METHODS.items() if spec.group == "da"),
    "ours": tuple(m for m, spec in METHODS.items() if spec.group in ("ours", "ours_ablation")),
    "spk": tuple(m for m, spec in METHODS.items() if spec.group == "spk_baseline"),
    "all": tuple(METHODS),
}


def parse_methods(text: str | None) -> tuple[str, ...]:
    """Method names and group names (paper, da, ours, spk, all), comma-separated; default: the paper's."""
    if not text or not text.strip():
        return PAPER_METHODS
    names: list[str] = []
    for item in (m.strip() for m in text.split(",")):
        if not item:
            continue
        if item.lower() in METHOD_GROUPS:
            names += METHOD_GROUPS[item.lower()]
        elif item in METHODS:
            names.append(item)
        else:
            raise SercrossError(
                f"unknown method {item!r}",
                hint=f"choose among {', '.join(METHODS)}, or the groups {', '.join(METHOD_GROUPS)}",
            )
    return tuple(dict.fromkeys(names))


# ------------------------------------------------------------------------------------------ parallelism


def default_jobs(n_runs: int, cores: int | None = None, jobs: int | None = None) -> tuple[int, int]:
    """(worker processes, torch threads per process).

    Rule: one single-threaded process per core (``jobs`` overrides this), never more processes than runs
    to do. Cores left over (fewer runs than cores, or ``jobs`` < cores) go to each process's torch threads,
    ``cores // jobs``. Reason (measured on 2 shared cores, README "benchmark"): these networks are small
    (batch 100, 1582-d inputs), so intra-op threads gain little on them and lose a lot (4-5× slower) when
    other processes compete for the cores, while independent runs in separate processes do not interfere.
    """
    cores = cores or usable_cpus()
    jobs = min(cores if jobs is None else max(1, int(jobs)), max(1, n_runs))
    # The thread count changes results in the last bits (and so, over thousands of steps, the metrics), so
    # it must not depend on the machine's momentary load: the same command gives the same numbers.
    return jobs, max(1, cores // jobs)


# ------------------------------------------------------------------------------------------------ plan


@dataclass(frozen=True)
class RunSpec:
    source: str
    target: str
    method: str
    seed: int

    @property
    def scheme(self) -> str:
        return f"{self.source}:{self.target}"

    def describe(self) -> str:
        return f"{self.method} {scheme_label(self.source, self.target)} seed {self.seed}"


@dataclass(frozen=True)
class Skip:
    scheme: str  # as asked for, e.g. "E:B" or "enterface:berlin"
    reason: str


@dataclass
class SchemeInfo:
    source: str
    target: str
    classes: tuple[str, ...]
    n_source: int
    n_target: int
    pair_fingerprint: str | None

    @property
    def name(self) -> str:
        return f"{self.source}:{self.target}"

    @property
    def label(self) -> str:
        return scheme_label(self.source, self.target)


@dataclass
class Plan:
    cache: Path
    feature_set: str
    preset: str
    tag: str
    config: TrainConfig
    methods: tuple[str, ...]
    seeds: tuple[int, ...]
    schemes: list[SchemeInfo]
    skipped: list[Skip]
    runs: list[RunSpec]
    finished: set[RunSpec] = field(default_factory=set)  # already in the cache, not trained again
    stale: dict[RunSpec, str] = field(default_factory=dict)  # a run folder exists but does not match

    @property
    def todo(self) -> list[RunSpec]:
        return [r for r in self.runs if r not in self.finished]

    def run_dir(self, spec: RunSpec) -> Path:
        return run_dir(self.cache, spec.source, spec.target, spec.method, self.tag, spec.seed)


def _canonical_corpus(name: str, cache: Path, feature_set: str) -> str:
    """Canonical id of a corpus name or alias (the manifests carry the paper's B, E, C)."""
    from sercross.experiments.resolve import corpus_name

    key = name.strip()
    try:
        return corpus_name(key)
    except SercrossError:
        if (features_dir(cache, key, feature_set) / "meta.json").is_file():
            return key  # features in the cache of a corpus whose manifest is elsewhere
        raise


def corpora_with_features(cache: Path, feature_set: str = DEFAULT_FEATURE_SET) -> list[str]:
    root = Path(cache) / "features"
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if (p / feature_set / "meta.json").is_file())


def _load_corpus(cache: Path, name: str, feature_set: str, extract: Callable | None) -> FeatureTable:
    """Cached features, else extracted from the configured root (``extract(manifest, root)``), else an error."""
    from sercross.corpora import load_manifest
    from sercross.experiments.resolve import features_or_extract

    if (features_dir(cache, name, feature_set) / "meta.json").is_file():
        return load_features(cache, name, feature_set)
    manifest = load_manifest(name)
    if extract is None:

        def extract(m, root):
            from sercross.features import extract_corpus

            return extract_corpus(m, root, cache, feature_set)

    return features_or_extract(cache, manifest, feature_set, extract)


def _reason(exc: SercrossError) -> str:
    return exc.message + (f" — {exc.hint}" if exc.hint else "")


def plan_benchmark(
    cache: Path,
    schemes: Sequence[tuple[str, str]] | None = None,
    all_pairs: bool = False,
    methods: Sequence[str] | None = None,
    seeds: Sequence[int] = (0, 1, 2, 3, 4),
    preset: str = "paper",
    epochs: int | None = None,
    feature_set: str = DEFAULT_FEATURE_SET,
    extract: Callable | None = None,
    lr: float | None = None,
    batch_size: int | None = None,
) -> Plan:
    """Resolve schemes to pairs (extracting and pairing what the cache lacks), list the runs, find finished ones.

    Default schemes: the paper's six. A scheme that cannot run (unknown corpus, no features and no root,
    too few shared classes, …) is skipped with its reason in ``Plan.skipped``.
    """
    from sercross.experiments.resolve import pair_for

    cache = Path(cache)
    check_feature_set(feature_set)
    methods = tuple(methods) if methods else PAPER_METHODS
    for m in methods:
        get_method(m)
    seeds = tuple(int(s) for s in seeds)
    if not seeds:
        raise SercrossError("no seed to run", hint="give --seeds 5 or --seeds 0,1")
    config = get_preset(preset, epochs=epochs, lr=lr, batch_size=batch_size)
    tag = preset_tag(preset, epochs, lr, batch_size)

    wanted: list[tuple[str, str]] = list(schemes or [])
    if all_pairs:
        wanted += list(permutations(corpora_with_features(cache, feature_set), 2))
    if not wanted and not all_pairs:
        wanted = list(PAPER_SCHEMES)

    tables: dict[str, FeatureTable | SercrossError] = {}
    infos: list[SchemeInfo] = []
    skipped: list[Skip] = []
    seen: set[tuple[str, str]] = set()
    for raw_src, raw_tgt in wanted:
        asked = f"{raw_src}:{raw_tgt}"
        try:
            src, tgt = (_canonical_corpus(n, cache, feature_set) for n in (raw_src, raw_tgt))
        except SercrossError as exc:
            skipped.append(Skip(asked, _reason(exc)))
            continue
        if (src, tgt) in seen:
            continue
        seen.add((src, tgt))
        if src == tgt:
            skipped.append(Skip(asked, "source and target are the same corpus"))
            continue
        for name in (src, tgt):
            if name not in tables:
                try:
                    tables[name] = _load_corpus(cache, name, feature_set, extract)
                except SercrossError as exc:
                    tables[name] = exc
        missing = [tables[n] for n in (src, tgt) if isinstance(tables[n], SercrossError)]
        if missing:
            skipped.append(Skip(f"{src}:{tgt}", "; ".join(_reason(e) for e in missing)))
            continue
        s_tab, t_tab = tables[src], tables[tgt]
        classes = default_classes(s_tab, t_tab)
        if frozenset({src, tgt}) not in PAPER_CLASSES and len(classes) < MIN_SHARED_CLASSES:
            skipped.append(Skip(
                f"{src}:{tgt}",
                f"{src} and {tgt} share {len(classes)} class(es) ({', '.join(classes) or 'none'}); "
                f"a scheme needs at least {MIN_SHARED_CLASSES}",
            ))
            continue
        try:
            pair = pair_for(cache, s_tab, t_tab, classes)
        except SercrossError as exc:
            skipped.append(Skip(f"{src}:{tgt}", _reason(exc)))
            continue
        infos.append(SchemeInfo(src, tgt, pair.classes, len(pair.ys), len(pair.yt), pair.meta.get("fingerprint")))

    runs = [RunSpec(i.source, i.target, m, s) for s in seeds for i in infos for m in methods]
    plan = Plan(cache, feature_set, preset, tag, config, methods, seeds, infos, skipped, runs)
    fingerprints = {i.name: i.pair_fingerprint for i in infos}
    for r in runs:
        state = run_state(plan.run_dir(r), fingerprints[r.scheme], r.method, tag, r.seed, config)
        if state == "finished":
            plan.finished.add(r)
        elif state != "new":
            plan.stale[r] = state
    return plan


# ------------------------------------------------------------------------------------------- execution


class Reporter:
    """Receives progress events of :func:`run_benchmark`; the CLI's subclass draws a progress bar."""

    def start(self, total: int, reused: int, todo: int, jobs: int, threads: int) -> None: ...

    def run_started(self, spec: RunSpec) -> None: ...

    def run_finished(self, spec: RunSpec, result: dict) -> None: ...

    def epoch(self, spec: RunSpec, epoch: int, epochs: int) -> None: ...


def _limit_threads(threads: int):
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(threads)
    return threadpool_limits(threads)


def _failure(exc: Exception, t0: float) -> dict:
    msg = exc.message if isinstance(exc, SercrossError) else f"{type(exc).__name__}: {exc}"
    return {"status": "failed", "error": msg, "traceback": traceback.format_exc(), "seconds": time.perf_counter() - t0}


def train_one(
    cache: str, source: str, target: str, feature_set: str, method: str, tag: str, config: TrainConfig,
    seed: int, threads: int, on_epoch: Callable | None = None,
) -> dict:
    """Train one run of a grid (the local worker function): load the pair from the cache, train, score.

    Never raises for a failing run (except on Ctrl-C): the failure is returned, so that it is reported and
    marked in the tables rather than lost.
    """
    from dataclasses import replace

    t0 = time.perf_counter()
    try:
        with _limit_threads(threads):
            pair = load_pair(Path(cache), source, target, feature_set)
            out = train_run(Path(cache), pair, method, tag, replace(config, threads=threads), seed,
                            on_epoch=on_epoch)
            metrics = read_json(out / "metrics.json")
        return {"status": "done", "run_dir": str(out), "war": metrics["war"], "uar": metrics["uar"],
                "seconds": time.perf_counter() - t0}
    except Exception as exc:  # a failing run must not end the grid; it is reported instead
        return _failure(exc, t0)


# Files of a run folder that mark it finished: removed first and written last by store_run.
_FINISHING = ("config.json", "metrics.json")


def train_portable(pair, method: str, tag: str, config: TrainConfig, seed: int, threads: int) -> dict:
    """Train one run of a grid on a cluster worker: the pair comes with the task, the run folder goes back.

    The run is trained by :func:`sercross.experiments.runs.train_run` into a private temporary cache; its files are
    returned as bytes (``files``) for :func:`store_run` to write on the client. Never raises for a failing run.
    """
    import socket
    from dataclasses import replace

    t0 = time.perf_counter()
    try:
        with _limit_threads(threads), tempfile.TemporaryDirectory(prefix="sercross-run-") as tmp:
            out = train_run(Path(tmp), pair, method, tag, replace(config, threads=threads), seed)
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


def _worker_init() -> None:
    # Ctrl-C reaches the workers too (same process group); the parent handles it and stops the pool.
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)


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
    results: dict[RunSpec, dict] = {}

    def args(spec: RunSpec) -> tuple:
        return (str(plan.cache), spec.source, spec.target, plan.feature_set, spec.method, plan.tag, plan.config,
                spec.seed, threads)

    if jobs == 1 or len(todo) <= 1:
        for spec in todo:
            reporter.run_started(spec)
            epochs = plan.config.epochs

            def on_epoch(epoch: int, row: dict, spec=spec, epochs=epochs) -> None:
                reporter.epoch(spec, epoch, epochs)

            results[spec] = train_one(*args(spec), on_epoch=on_epoch)
            reporter.run_finished(spec, results[spec])
    else:
        # torch is loaded: fork would copy its thread pools in a broken state, hence spawn.
        with LocalExecutor(jobs, get_context("spawn"), initializer=_worker_init) as ex:
            tasks = ((spec, train_one, args(spec)) for spec in todo)
            for spec, res in ex.imap(tasks, on_submit=reporter.run_started):
                results[spec] = _as_result(res)
                reporter.run_finished(spec, results[spec])
    return Outcome(plan, results, jobs, threads, time.perf_counter() - t0)


def _as_result(res) -> dict:
    if not isinstance(res, TaskFailed):
        return res
    return {"status": "failed", "seconds": float("nan"),
            "error": res.error + ("; out of memory?" if res.worker_died else "")}


def _run_remote(plan: Plan, todo: list[RunSpec], address: str, jobs: int | None, reporter: Reporter) -> Outcome:
    """Train ``todo`` on a Dask cluster; results are written here, in the same layout as local runs."""
    threads = 1  # one core per worker process (workers: --nthreads 1)
    t0 = time.perf_counter()
    results: dict[RunSpec, dict] = {}
    with open_executor(address) as ex:
        window = ex.slots if jobs is None else max(1, int(jobs))
        reporter.start(len(plan.runs), len(plan.finished), len(todo), window, threads)
        # Each scheme's pair is read here once and travels with each of its runs (workers need no cache); a pair
        # that cannot be read fails its runs (reported, as locally) without reaching the cluster.
        pairs: dict[str, object] = {}
        for spec in todo:
            if spec.scheme not in pairs:
                try:
                    pairs[spec.scheme] = load_pair(plan.cache, spec.source, spec.target, plan.feature_set)
                except Exception as exc:
                    pairs[spec.scheme] = _failure(exc, time.perf_counter())
            if isinstance(pairs[spec.scheme], dict):
                results[spec] = dict(pairs[spec.scheme], seconds=0.0)
                reporter.run_started(spec)
                reporter.run_finished(spec, results[spec])
        tasks = ((spec, train_portable, (pairs[spec.scheme], spec.method, plan.tag, plan.config, spec.seed, threads))
                 for spec in todo if spec not in results)
        for spec, res in ex.imap(tasks, window=window, on_submit=reporter.run_started):
            res = _as_result(res)
            if res["status"] == "done":
                rdir = plan.run_dir(spec)
                t_write = time.perf_counter()
                try:
                    store_run(rdir, res.pop("files"))
                    res["run_dir"] = str(rdir)
                except Exception as exc:  # e.g. the client's disk is full: this run failed here
                    res = _failure(exc, t_write)
            results[spec] = res
            reporter.run_finished(spec, res)
    return Outcome(plan, results, window, threads, time.perf_counter() - t0, address)


# ------------------------------------------------------------------------------------------ collection


def oracle_from_history(path: Path) -> tuple[float | None, int | None]:
    """(best target WAR over epochs, its epoch) from history.csv's monitoring column; None if absent.

    This is an oracle (model selection on target labels), shown only for comparison with how the authors'
    public code reports its numbers; it never enters the main tables.
    """
    try:
        rows = read_csv(path)
    except OSError:
        return None, None
    vals = []
    for row in rows:
        v = row.get("target_war_monitor")
        if v not in (None, ""):
            vals.append((float(v), int(float(row["epoch"]))))
    if not vals:
        return None, None
    best = max(vals, key=lambda t: (t[0], -t[1]))  # the first epoch reaching the best value
    return best[0], best[1]


def collect_results(plan: Plan, outcome: Outcome | None = None) -> list[dict]:
    """One row per run of the plan, read back from the run folders (metrics.json)."""
    trained = outcome.results if outcome is not None else {}
    rows = []
    for spec in sorted(plan.runs, key=lambda r: (_scheme_order(plan, r.scheme), _method_order(plan, r.method),
                                                 r.seed)):
        rdir = plan.run_dir(spec)
        row = {
            "scheme": spec.scheme, "source": spec.source, "target": spec.target, "method": spec.method,
            "preset": plan.tag, "seed": spec.seed, "war": None, "uar": None, "run_dir": str(rdir),
            "status": "missing", "error": "", "oracle_war": None, "oracle_epoch": None,
            "reverse_validation_uar": None, "predicted_classes": None,
        }
        res = trained.get(spec)
        if res is not None and res["status"] == "failed":
            row.update(status="failed", error=res["error"])
        elif (rdir / "metrics.json").is_file() and (spec in plan.finished or res is not None):
            met = read_json(rdir / "metrics.json")
            row.update(war=float(met["war"]), uar=float(met["uar"]),
                       status="reused" if spec in plan.finished else "trained")
            confusion = np.asarray(met.get("confusion") or [])
            if confusion.ndim == 2:  # how many classes the run predicts at all (1: collapsed)
                row["predicted_classes"] = int((confusion.sum(axis=0) > 0).sum())
            if get_method(spec.method).kind == "network":
                row["oracle_war"], row["oracle_epoch"] = oracle_from_history(rdir / "history.csv")
                row["reverse_validation_uar"] = read_json(rdir / "config.json").get("reverse_validation_uar")
        else:
            row["error"] = plan.stale.get(spec, "not trained")
        rows.append(row)
    return rows


def _scheme_order(plan: Plan, scheme: str) -> int:
    return [s.name for s in plan.schemes].index(scheme)


def _method_order(plan: Plan, method: str) -> int:
    return list(plan.methods).index(method)


def write_results_csv(path: Path, rows: Iterable[dict]) -> None:
    def fmt(v):
        return "" if v is None else v

    atomic_write_csv(path, RESULTS_HEADER, [[fmt(r.get(k)) for k in RESULTS_HEADER] for r in rows])


def benchmark_dir(cache: Path, name: str) -> Path:
    if not name or "/" in name or name.startswith("."):
        raise SercrossError(f"bad benchmark name {name!r}", hint="use letters, digits, '-' and '_'")
    return Path(cache) / BENCHMARKS_DIR / name


# ----------------------------------------------------------------------------------------- aggregation


@dataclass
class Cell:
    """Mean and sample standard deviation (ddof = 1) over seeds of one method on one scheme, in percent."""

    mean: float | None
    std: float | None  # nan with a single seed
    n: int  # seeds with a result
    expected: int  # seeds asked for
    values: dict[int, float]  # seed -> value
    failed: int = 0
    partial_schemes: int | None = None  # Average only: schemes with a result, when fewer than all

    def to_dict(self) -> dict:
        def num(v):
            return None if v is None or (isinstance(v, float) and math.isnan(v)) else round(float(v), 6)

        d = {"mean": num(self.mean), "std": num(self.std), "n": self.n, "expected": self.expected,
             "values": {str(k): num(v) for k, v in self.values.items()}, "failed": self.failed}
        if self.partial_schemes is not None:
            d["schemes_with_results"] = self.partial_schemes
        return d


def _stats(values: Sequence[float]) -> tuple[float | None, float | None]:
    if not values:
        return None, None
    arr = np.asarray(values, dtype=np.float64)
    return float(arr.mean()), (float(arr.std(ddof=1)) if len(arr) > 1 else float("nan"))


def aggregate(
    rows: Sequence[dict],
    metric: str,
    schemes: Sequence[str],
    methods: Sequence[str],
    seeds: Sequence[int],
    scale: float = 100.0,
) -> dict[str, dict[str, Cell]]:
    """``{method: {scheme: Cell, ..., "Average": Cell}}`` of ``metric`` (a column of the result rows).

    A scheme cell: mean and sample std (ddof = 1) over the seeds with a result. The Average cell: the mean
    of the scheme means (as the paper averages its six schemes), ± the sample std over seeds of the
    per-seed average across schemes, counting only seeds that have a result on every scheme with results.
    Rows whose value is None (failed or missing runs) count in ``failed`` / are left out.
    """
    by_key: dict[tuple[str, str], dict[int, float]] = {}
    failed: dict[tuple[str, str], int] = {}
    for r in rows:
        key = (r["method"], r["scheme"])
        v = r.get(metric)
        if v is None or v == "" or (isinstance(v, float) and math.isnan(v)):
            if r.get("status") == "failed":
                failed[key] = failed.get(key, 0) + 1
            continue
        if int(r["seed"]) in seeds:
            by_key.setdefault(key, {})[int(r["seed"])] = scale * float(v)
    out: dict[str, dict[str, Cell]] = {}
    for m in methods:
        cells: dict[str, Cell] = {}
        for s in schemes:
            vals = dict(sorted(by_key.get((m, s), {}).items()))
            mean, std = _stats(list(vals.values()))
            cells[s] = Cell(mean, std, len(vals), len(seeds), vals, failed.get((m, s), 0))
        with_results = [s for s in schemes if cells[s].n > 0]
        if with_results:
            mean = float(np.mean([cells[s].mean for s in with_results]))
            common = [k for k in seeds if all(k in cells[s].values for s in with_results)]
            per_seed = {k: float(np.mean([cells[s].values[k] for s in with_results])) for k in common}
            _, std = _stats(list(per_seed.values()))
            std = std if std is not None else float("nan")
            avg = Cell(mean, std, len(per_seed), len(seeds), per_seed, sum(c.failed for c in cells.values()))
            if len(with_results) < len(schemes):
                avg.partial_schemes = len(with_results)
        else:
            avg = Cell(None, None, 0, len(seeds), {}, sum(c.failed for c in cells.values()))
        cells["Average"] = avg
        out[m] = cells
    return out


def aggregate_oracle(rows, schemes, methods, seeds) -> dict[str, dict[str, Cell]]:
    """Like :func:`aggregate` on the best-epoch target WAR (oracle); network methods only."""
    net = [m for m in methods if get_method(m).kind == "network"]
    return aggregate(rows, "oracle_war", schemes, net, seeds)


def benchmark_meta(plan: Plan, name: str, outcome: Outcome | None = None) -> dict:
    """What :func:`sercross.experiments.tables.build_tables` needs to know about the grid."""
    from datetime import datetime, timezone

    from sercross import __version__

    return {
        "name": name,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "sercross_version": __version__,
        "preset": plan.preset,
        "tag": plan.tag,
        "config": plan.config.to_dict(),
        "feature_set": plan.feature_set,
        "seeds": list(plan.seeds),
        "methods": list(plan.methods),
        "schemes": [
            {"name": s.name, "source": s.source, "target": s.target, "classes": list(s.classes),
             "n_source": s.n_source, "n_target": s.n_target}
            for s in plan.schemes
        ],
        "skipped": [{"scheme": s.scheme, "reason": s.reason} for s in plan.skipped],
        "jobs": outcome.jobs if outcome else None,
        "threads": outcome.threads if outcome else None,
        "scheduler": outcome.scheduler if outcome else None,
    }
