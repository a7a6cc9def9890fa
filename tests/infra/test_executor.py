"""The executor: local processes and a real local Dask cluster give the same results; dying workers are retried.

The Dask tests start ``distributed.LocalCluster`` (2 single-threaded worker processes on 127.0.0.1) once for the
module; they are skipped, with the reason shown, when ``distributed`` is not installed.
"""

from __future__ import annotations

import csv
import os
import sys
from pathlib import Path

import numpy as np
import pytest

from sercross.infra.errors import SercrossError
from sercross.infra.executor import ENV_SCHEDULER, map_chunks, open_executor, resolve_scheduler
from sercross.infra.processes import LocalExecutor
from sercross.infra.tasks import TaskFailed, WorkerDied

try:
    import distributed
except ImportError:  # pragma: no cover - depends on the environment
    distributed = None

needs_dask = pytest.mark.skipif(distributed is None, reason="dask distributed not installed "
                                "(pip install 'sercross[dask]'): cluster tests skipped")


@pytest.fixture(autouse=True)
def no_scheduler_from_env(monkeypatch):
    monkeypatch.delenv(ENV_SCHEDULER, raising=False)


# Task functions: module level, so that local and Dask workers import them by name.


def chunk_stats(chunk):
    """A pure function of a chunk (what extraction does with a chunk of files, in miniature)."""
    a = np.asarray(chunk, dtype=np.float64)
    return [float(x) for x in (a.sum(), (a**2).mean(), np.sin(a).prod())]


_STATE: dict = {}


def set_offset(offset):  # an initializer: per-process state, as features.py keeps its openSMILE extractor
    _STATE["offset"] = offset


def add_offset(chunk):
    return [x + _STATE["offset"] for x in chunk]


def die_first_time(arg):
    """Exits its worker process the first time it runs (a marker file remembers), then returns its value."""
    marker, value = arg
    if not os.path.exists(marker):
        Path(marker).touch()
        os._exit(3)  # as a segfault or the OOM killer would
    return value * 10


def die_always(_):
    os._exit(3)


def boom(_):
    raise ValueError("boom")


CHUNKS = [list(range(i, i + 5)) for i in range(0, 60, 5)]
EXPECTED = [chunk_stats(c) for c in CHUNKS]


# ------------------------------------------------------------------------------------------------ local


def test_resolve_scheduler(monkeypatch):
    assert resolve_scheduler(None) is None and resolve_scheduler("local") is None
    monkeypatch.setenv(ENV_SCHEDULER, "tcp://h:8786")
    assert resolve_scheduler(None) == "tcp://h:8786" and resolve_scheduler(" LOCAL ") is None
    assert resolve_scheduler("tcp://other:1") == "tcp://other:1"


@pytest.mark.slow  # worker processes start (spawn)
def test_local_map_chunks_equals_serial_and_runs_the_initializer():
    got = dict(map_chunks(chunk_stats, CHUNKS, jobs=2))  # completion order
    assert [got[i] for i in range(len(CHUNKS))] == EXPECTED
    ordered = list(map_chunks(add_offset, CHUNKS[:4], initializer=set_offset, initargs=(100,), jobs=2, ordered=True))
    assert ordered == [(i, [x + 100 for x in c]) for i, c in enumerate(CHUNKS[:4])]
    with pytest.raises(ValueError, match="boom"):
        list(map_chunks(boom, [[1], [2]], jobs=2))


@pytest.mark.slow  # worker processes start (spawn)
def test_local_worker_killed_mid_task_is_retried_or_reported(tmp_path):
    tasks = [(i, die_first_time, ((str(tmp_path / f"m{i}"), i),)) for i in range(3)]
    tasks.append(("ok", abs, (-7,)))
    with LocalExecutor(2) as ex:
        got = dict(ex.imap(tasks))
    assert got == {0: 0, 1: 10, 2: 20, "ok": 7}  # every task once, whichever died
    with LocalExecutor(2) as ex:
        got = dict(ex.imap([("bad", die_always, (0,)), ("ok", abs, (-1,))]))
    assert got["ok"] == 1 and isinstance(got["bad"], TaskFailed) and got["bad"].worker_died
    assert "died 3 times" in got["bad"].error
    with pytest.raises(WorkerDied):
        list(map_chunks(die_always, [[1]], jobs=1))


@pytest.mark.slow  # worker processes start (spawn)
def test_a_task_that_cannot_be_sent_fails_alone_and_a_failing_initializer_fails_each_task():
    submitted = []
    with LocalExecutor(2) as ex:
        got = dict(ex.imap([("local", abs, (lambda: 1,)), ("ok", abs, (-2,))], on_submit=submitted.append))
    assert got["ok"] == 2 and isinstance(got["local"], TaskFailed) and not got["local"].worker_died
    assert got["local"].exception is not None and sorted(submitted) == ["local", "ok"]
    with pytest.raises(ValueError, match="boom"):
        list(map_chunks(add_offset, [[1], [2]], initializer=boom, initargs=(0,), jobs=2))


@pytest.mark.slow  # worker processes start (spawn)
def test_a_retried_task_is_submitted_once_and_stopping_early_ends_the_workers_at_once(tmp_path):
    import multiprocessing
    import time

    submitted = []
    with LocalExecutor(2) as ex:
        got = dict(ex.imap([(i, die_first_time, ((str(tmp_path / f"m{i}"), i),)) for i in range(2)],
                           on_submit=submitted.append))
    assert got == {0: 0, 1: 10} and sorted(submitted) == [0, 1]  # reported once, though each ran twice
    def workers():
        return [p for p in multiprocessing.active_children() if p.name == "sercross-worker"]

    with LocalExecutor(2) as ex:
        results = ex.imap([("fast", abs, (-1,)), ("slow", time.sleep, (60,))])
        assert next(results) == ("fast", 1) and len(workers()) == 2
        t0 = time.monotonic()
        results.close()  # the consumer had enough: the worker sleeping 60 s is terminated, the idle one kept
        assert time.monotonic() - t0 < 10 and len(workers()) == 1
    assert workers() == []


def test_without_distributed_a_scheduler_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)  # import fails as if not installed
    with pytest.raises(SercrossError, match="needs the `distributed` package") as info:
        open_executor("tcp://127.0.0.1:8786")
    assert "pip install distributed" in info.value.hint


# ------------------------------------------------------------------------------------------------- Dask


@pytest.fixture(scope="module")
def local_cluster():
    if distributed is None:
        pytest.skip("dask distributed not installed (pip install 'sercross[dask]')")
    # Dask's defaults: a task is failed once 4 workers died while it was on them (allowed-failures = 3).
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None) as c:
        yield c


@pytest.fixture
def cluster(local_cluster):
    """The scheduler's address, once both workers are up (the nannies restart those a test killed)."""
    local_cluster.wait_for_workers(2, timeout=120)
    return local_cluster.scheduler_address


@pytest.mark.slow  # a local Dask cluster
@needs_dask
def test_dask_map_chunks_equals_local(cluster):
    got = dict(map_chunks(chunk_stats, CHUNKS, scheduler=cluster))
    assert [got[i] for i in range(len(CHUNKS))] == EXPECTED
    ordered = list(map_chunks(add_offset, CHUNKS, initializer=set_offset, initargs=(7,), scheduler=cluster,
                              ordered=True))
    assert ordered == list(map_chunks(add_offset, CHUNKS, initializer=set_offset, initargs=(7,), jobs=2,
                                      ordered=True))
    with pytest.raises(ValueError, match="boom"):
        list(map_chunks(boom, [[1]], scheduler=cluster))


@pytest.mark.slow  # a local Dask cluster
@needs_dask
def test_dask_worker_killed_mid_task_is_retried_or_reported(cluster, tmp_path, monkeypatch):
    monkeypatch.setenv(ENV_SCHEDULER, cluster)  # the variable selects the cluster
    with open_executor() as ex:
        assert ex.remote and ex.slots == 2
        got = dict(ex.imap([(i, die_first_time, ((str(tmp_path / f"m{i}"), i),)) for i in range(3)]))
        assert got == {0: 0, 1: 10, 2: 20}
        got = dict(ex.imap([("bad", die_always, (0,))]))
    assert isinstance(got["bad"], TaskFailed) and got["bad"].worker_died and "died" in got["bad"].error


@needs_dask
def test_unreachable_scheduler_is_a_clear_error(monkeypatch):
    monkeypatch.setattr("sercross.infra.cluster.CONNECT_TIMEOUT", 1.0)
    with pytest.raises(SercrossError, match="cannot reach the Dask scheduler at tcp://127.0.0.1:9"):
        open_executor("tcp://127.0.0.1:9")


# ----------------------------------------------------------------------------------- benchmark on Dask


def write_table(cache, corpus, emotions, seed, dim=10, speakers=2, per=3):
    from sercross import CACHE_VERSION
    from sercross.features.table import _fingerprint
    from sercross.infra.cache import atomic_write_csv, atomic_write_json, atomic_write_npy, features_dir

    rng = np.random.default_rng(seed)
    rows, utts = [], []
    for s in range(speakers):
        for k, e in enumerate(emotions):
            for i in range(per):
                utts.append((f"{corpus}/{s}/{e}/{i}.wav", f"{corpus}{s}", e, e))
                rows.append(rng.normal(k, 1.0, dim))
    out = features_dir(cache, corpus, "IS10")
    atomic_write_npy(out / "features.npy", np.asarray(rows, np.float32))
    atomic_write_csv(out / "index.csv", ["file", "speaker", "emotion", "native"], utts)
    atomic_write_json(out / "meta.json", {
        "cache_version": CACHE_VERSION, "corpus": corpus, "feature_set": "IS10", "n_features": dim,
        "columns": [f"f{i}" for i in range(dim)], "skipped": [], "fingerprint": _fingerprint(out),
    })


def grid(cache):
    import sercross.experiments as exp

    write_table(cache, "demo_a", ("anger", "fear", "happiness", "neutral", "sadness"), 1)
    write_table(cache, "demo_b", ("anger", "fear", "happiness", "neutral", "sadness"), 2)
    return exp.plan_benchmark(cache, [("demo_a", "demo_b")], methods=["tlmlda", "pca_svm"], seeds=[0, 1],
                             preset="demo", epochs=2)


def run_files(plan, spec):
    import torch

    d = plan.run_dir(spec)
    preds = list(csv.DictReader(open(d / "predictions.csv")))
    if (d / "model.pt").is_file():
        model = {k: v.numpy() for k, v in torch.load(d / "model.pt", weights_only=True)["state_dict"].items()}
    else:
        model = (d / "model.pkl").read_bytes()
    return preds, model


@pytest.mark.slow  # a local Dask cluster
@needs_dask
def test_benchmark_on_the_cluster_equals_local_and_resumes_either_way(cluster, tmp_path, monkeypatch):
    import sercross.experiments as exp

    local, remote = grid(tmp_path / "local"), grid(tmp_path / "remote")
    out_l = exp.run_benchmark(local, jobs=1, cores=1)  # one process, one torch thread
    started = []

    class Rec(exp.Reporter):
        def run_started(self, spec):
            started.append(spec)

    out_r = exp.run_benchmark(remote, reporter=Rec(), scheduler=cluster)
    # 3 runs: pca_svm does not depend on the seed, so one run serves both seeds
    assert not out_l.failures and not out_r.failures and len(out_r.results) == 3 == len(started)
    assert out_r.scheduler == cluster and out_r.jobs == 2 and "Dask cluster" in out_r.where
    rows_l, rows_r = exp.collect_results(local, out_l), exp.collect_results(remote, out_r)
    assert [(r["war"], r["uar"], r["oracle_war"]) for r in rows_l] == [(r["war"], r["uar"], r["oracle_war"])
                                                                       for r in rows_r]
    for spec in local.runs:
        (pl, ml), (pr, mr) = run_files(local, spec), run_files(remote, spec)
        assert pl == pr, spec
        if isinstance(ml, dict):
            assert ml.keys() == mr.keys() and all(np.array_equal(ml[k], mr[k]) for k in ml), spec
    assert not list((tmp_path / "remote").rglob("*.tmp"))

    # A cluster run is finished for a local resume, and a local grid resumes on the cluster.
    assert grid(tmp_path / "remote").todo == []
    victim = local.runs[1]
    (local.run_dir(victim) / "metrics.json").unlink()
    again = grid(tmp_path / "local")
    assert again.todo == [victim]
    out = exp.run_benchmark(again, scheduler=cluster)
    assert list(out.results) == [victim] and not out.failures
    assert exp.collect_results(again, out) == [dict(r, status="reused" if r["run_dir"] != str(local.run_dir(victim))
                                                   else "trained") for r in rows_l]

    # The CLI: --scheduler, results and tables written here.
    from typer.testing import CliRunner

    from sercross.cli import app

    write_table(tmp_path / "cli", "demo_a", ("anger", "fear", "happiness", "neutral"), 3)
    write_table(tmp_path / "cli", "demo_b", ("anger", "fear", "happiness", "neutral"), 4)
    r = CliRunner().invoke(app, ["--cache", str(tmp_path / "cli"), "benchmark", "--schemes", "demo_a:demo_b",
                                 "--methods", "pca_svm", "--seeds", "2", "--preset", "demo", "--scheduler", cluster])
    assert r.exit_code == 0, r.output
    # PCA+SVM does not depend on the seed: one run serves both seeds
    assert "1 trained, 0 reused, 1 served by the run of another seed" in r.output and "Dask cluster" in r.output
    assert (tmp_path / "cli" / "benchmarks" / "demo" / "tables.md").is_file()


# ---------------------------------------------------------------------------------------- extract on Dask


@pytest.mark.slow  # a local Dask cluster
@needs_dask
def test_extraction_on_the_cluster_equals_local(cluster, tmp_path):
    from sercross.corpora.demo import DemoConfig, synthesize_corpus
    from sercross.corpora.manifests import load_manifest
    from sercross.features import extract_corpus, load_features

    root = synthesize_corpus("demo_a", tmp_path / "audio", DemoConfig(speakers=1, utterances=2))
    m = load_manifest("demo_a")
    extract_corpus(m, root, tmp_path / "local", jobs=1)
    s = extract_corpus(m, root, tmp_path / "remote", scheduler=cluster)
    assert s.n_extracted == 12 and s.jobs == 2
    a, b = load_features(tmp_path / "local", "demo_a"), load_features(tmp_path / "remote", "demo_a")
    assert np.array_equal(a.X, b.X) and a.utterances == b.utterances and a.columns == b.columns
    assert a.meta["fingerprint"] == b.meta["fingerprint"]
    # The cluster's per-file store is this machine's: a local re-run extracts nothing.
    assert extract_corpus(m, root, tmp_path / "remote", jobs=1).n_extracted == 0
