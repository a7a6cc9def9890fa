"""Benchmark grids on tiny synthetic feature tables: plan (resume, skipping), execution (parallel runs, failures),
collected results, no target labels, and the CLI command."""

import csv
import json
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

import sercross.experiments.collect as collect
import sercross.experiments.execute as execute
import sercross.experiments.plan as plan_mod
from sercross.corpora.manifests import Utterance
from sercross.experiments.aggregation import aggregate
from sercross.experiments.keys import PairKey
from sercross.experiments.schemes import PAPER_SCHEMES
from sercross.features.table import _fingerprint
from sercross.infra.cache import atomic_write_csv, atomic_write_json, atomic_write_npy, features_dir, pair_dir
from sercross.infra.errors import SercrossError
from sercross.methods.config import PRESETS, TrainConfig
from sercross.methods.registry import METHODS, PAPER_METHODS

TINY = TrainConfig(epochs=2, lr=1e-3, batch_size=8, encoder_sizes=(16, 12, 8), dnn_sizes=(8, 6), threads=1)
EMOTIONS = {
    "demo_a": ("anger", "boredom", "fear", "happiness", "neutral", "sadness"),
    "demo_b": ("anger", "fear", "happiness", "neutral", "sadness", "surprise"),
    "berlin": ("anger", "boredom"),  # shares two classes with the demo corpora: too few for a scheme
}


@pytest.fixture(autouse=True)
def isolated(monkeypatch, tmp_path):
    """A 'tiny' preset, and no corpus root from the environment or the user's config."""
    monkeypatch.setitem(PRESETS, "tiny", TINY)
    for name in ("BERLIN", "CASIA", "ENTERFACE", "DEMO_A", "DEMO_B"):
        monkeypatch.delenv(f"SERCROSS_ROOT_{name}", raising=False)
    monkeypatch.setattr("sercross.corpora.roots.USER_CONFIG", tmp_path / "no-config.toml")


def write_features(cache, corpus, emotions=None, speakers=2, per=2, dim=12, seed=0, permute_labels=None):
    """A feature table in the cache as `sercross extract` leaves it (random values, class-dependent means)."""
    emotions = emotions or EMOTIONS[corpus]
    rng = np.random.default_rng(seed)
    utts, rows = [], []
    for s in range(speakers):
        for k, e in enumerate(emotions):
            for i in range(per):
                utts.append(Utterance(f"{corpus}/{s}/{e}/{i}.wav", f"{corpus}{s}", e, e))
                rows.append(rng.normal(k, 1.0, dim))
    if permute_labels is not None:  # shuffle labels among the utterances of the given classes
        idx = [i for i, u in enumerate(utts) if u.emotion in permute_labels]
        perm = np.random.default_rng(99).permutation(idx)
        labels = [utts[j].emotion for j in perm]
        for i, lab in zip(idx, labels):
            utts[i] = Utterance(utts[i].file, utts[i].speaker, lab, lab)
    out = features_dir(cache, corpus, "IS10")
    atomic_write_npy(out / "features.npy", np.asarray(rows, np.float32))
    atomic_write_csv(out / "index.csv", ["file", "speaker", "emotion", "native"],
                     [(u.file, u.speaker, u.emotion, u.native) for u in utts])
    from sercross import CACHE_VERSION

    atomic_write_json(out / "meta.json", {
        "cache_version": CACHE_VERSION, "corpus": corpus, "feature_set": "IS10", "n_features": dim,
        "columns": [f"f{i}" for i in range(dim)], "skipped": [], "fingerprint": _fingerprint(out),
    })


@pytest.fixture
def cache(tmp_path):
    c = tmp_path / "cache"
    write_features(c, "demo_a", seed=1)
    write_features(c, "demo_b", seed=2)
    return c


DEMO = [("demo_a", "demo_b"), ("demo_b", "demo_a")]


def count_trainings(monkeypatch):
    calls = []
    real = execute.train_run

    def counting(*a, **kw):
        calls.append(a[2])  # the method
        return real(*a, **kw)

    monkeypatch.setattr(execute, "train_run", counting)
    return calls


# ------------------------------------------------------------------------------------------------ resume


@pytest.mark.slow  # trains 6 runs
def test_a_finished_grid_is_never_trained_again(cache, monkeypatch):
    calls = count_trainings(monkeypatch)
    plan = plan_mod.plan_benchmark(cache, DEMO, methods=["only_cls", "pca_svm"], seeds=[0, 1], preset="tiny")
    assert len(plan.runs) == 8 and not plan.finished
    out = execute.run_benchmark(plan, jobs=1)
    # pca_svm does not depend on the seed: one run per pair serves both seeds
    assert len(calls) == 6 and not out.failures
    rows = collect.collect_results(plan, out)
    assert {r["status"] for r in rows} == {"trained"}
    for r in rows:  # the number of classes each run predicts, from its confusion matrix
        confusion = json.loads((Path(r["run_dir"]) / "metrics.json").read_text())["confusion"]
        assert r["predicted_classes"] == sum(1 for col in zip(*confusion) if sum(col) > 0) >= 1

    again = plan_mod.plan_benchmark(cache, DEMO, methods=["only_cls", "pca_svm"], seeds=[0, 1], preset="tiny")
    assert again.finished == set(again.runs) and again.todo == []
    execute.run_benchmark(again, jobs=1)
    assert len(calls) == 6  # nothing trained the second time
    rows2 = collect.collect_results(again)
    assert {r["status"] for r in rows2} == {"reused"}
    assert [(r["war"], r["uar"]) for r in rows2] == [(r["war"], r["uar"]) for r in rows]

    # An interrupted run (no metrics.json) is redone, and only that one.
    victim = again.runs[3]
    (again.run_dir(victim) / "metrics.json").unlink()
    third = plan_mod.plan_benchmark(cache, DEMO, methods=["only_cls", "pca_svm"], seeds=[0, 1], preset="tiny")
    assert third.todo == [victim] and "interrupted" in third.stale[victim]
    execute.run_benchmark(third, jobs=1)
    assert len(calls) == 7


@pytest.mark.slow  # trains
def test_a_run_trained_with_another_config_is_not_reused(cache, monkeypatch):
    plan = plan_mod.plan_benchmark(cache, DEMO[:1], methods=["only_cls"], seeds=[0], preset="tiny")
    execute.run_benchmark(plan, jobs=1)
    monkeypatch.setitem(PRESETS, "tiny", TrainConfig(**{**TINY.to_dict(), "lr": 0.5}))
    changed = plan_mod.plan_benchmark(cache, DEMO[:1], methods=["only_cls"], seeds=[0], preset="tiny")
    assert changed.todo == changed.runs and "another configuration" in next(iter(changed.stale.values()))
    # The thread count is not part of what a run is.
    monkeypatch.setitem(PRESETS, "tiny", TrainConfig(**{**TINY.to_dict(), "threads": 7}))
    assert plan_mod.plan_benchmark(cache, DEMO[:1], methods=["only_cls"], seeds=[0], preset="tiny").todo == []
    # --epochs makes another tag, hence other runs.
    other = plan_mod.plan_benchmark(cache, DEMO[:1], methods=["only_cls"], seeds=[0], preset="tiny", epochs=1)
    assert other.tag == "tiny_e1" and other.todo == other.runs and not other.stale
    # --lr and --batch-size too, named as `sercross train` names them.
    other = plan_mod.plan_benchmark(cache, DEMO[:1], methods=["only_cls"], seeds=[0], preset="tiny", epochs=1, lr=3e-4,
                                    batch_size=4)
    assert other.tag == "tiny_e1_lr0.0003_b4" and (other.config.lr, other.config.batch_size) == (3e-4, 4)
    # A setting given at the preset's own value changes nothing, so it is the same run (tag and folder).
    same = plan_mod.plan_benchmark(cache, DEMO[:1], methods=["only_cls"], seeds=[0], preset="tiny", batch_size=8)
    assert same.tag == "tiny" and same.todo == []
    with pytest.raises(SercrossError, match="would not train"):
        plan_mod.plan_benchmark(cache, DEMO[:1], methods=["only_cls"], seeds=[0], preset="tiny", lr=0.0)


# ---------------------------------------------------------------------------------------------- skipping


def test_schemes_that_cannot_run_are_skipped_with_their_reason(cache):
    write_features(cache, "berlin")
    plan = plan_mod.plan_benchmark(
        cache, [("demo_a", "demo_b"), ("C", "demo_a"), ("nope", "demo_a"), ("demo_a", "berlin"), ("B", "berlin")],
        methods=["pca_svm"], seeds=[0], preset="tiny",
    )
    assert [s.name for s in plan.schemes] == ["demo_a→demo_b"]
    why = {s.scheme: s.reason for s in plan.skipped}
    assert "no IS10 features" in why["casia→demo_a"] and "SERCROSS_ROOT_CASIA" in why["casia→demo_a"]
    assert "unknown corpus 'nope'" in why["nope→demo_a"]
    assert "share 2 class(es) (anger, boredom)" in why["demo_a→berlin"] and "at least 3" in why["demo_a→berlin"]
    assert "same corpus" in why["B→berlin"]
    assert [r.scheme for r in plan.runs] == ["demo_a→demo_b"]


def test_the_paper_grid_by_default_and_extraction_from_a_configured_root(cache, tmp_path, monkeypatch):
    plan = plan_mod.plan_benchmark(cache, None, methods=["pca_svm"], seeds=[0], preset="tiny")
    assert plan.runs == [] and len(plan.skipped) == 6
    assert [s.scheme for s in plan.skipped] == [f"{s}→{t}" for s, t in PAPER_SCHEMES]

    # A corpus without features but with a root is extracted first.
    root = tmp_path / "casia-root"
    root.mkdir()
    monkeypatch.setenv("SERCROSS_ROOT_CASIA", str(root))
    extracted = []

    def fake_extract(manifest, r):
        extracted.append((manifest.name, r))
        write_features(cache, manifest.name, emotions=("anger", "fear", "happiness", "neutral", "sadness"))

    plan = plan_mod.plan_benchmark(cache, [("casia", "demo_a")], methods=["pca_svm"], seeds=[0], preset="tiny",
                             extract=fake_extract)
    assert extracted == [("casia", root)] and [s.name for s in plan.schemes] == ["casia→demo_a"]


def test_all_pairs_uses_every_corpus_with_features(cache):
    write_features(cache, "berlin")
    plan = plan_mod.plan_benchmark(cache, None, all_pairs=True, methods=["pca_svm"], seeds=[0], preset="tiny")
    assert sorted(s.name for s in plan.schemes) == ["demo_a→demo_b", "demo_b→demo_a"]
    assert len(plan.skipped) == 4 and all("at least 3" in s.reason for s in plan.skipped)


def test_one_single_threaded_process_per_core_and_never_more_processes_than_runs():
    assert execute.default_jobs(10, cores=2) == (2, 1)
    assert execute.default_jobs(1, cores=2) == (1, 2)
    assert execute.default_jobs(10, cores=2, jobs=1) == (1, 2)
    assert execute.default_jobs(10, cores=8, jobs=3) == (3, 2)
    assert execute.default_jobs(1, cores=2, jobs=4) == (1, 2)  # never more processes than runs


# ------------------------------------------------------------------------------------------- collection


def test_oracle_is_the_best_monitored_epoch(tmp_path):
    p = tmp_path / "history.csv"
    p.write_text("epoch,loss_total,target_war_monitor\n1,1.0,0.2\n2,0.9,0.6\n3,0.8,0.6\n4,0.7,0.4\n")
    assert collect.oracle_from_history(p) == (0.6, 2)
    p.write_text("epoch,loss_total\n1,1.0\n")
    assert collect.oracle_from_history(p) == (None, None)


# ------------------------------------------------------------------------------------ no target labels


@pytest.mark.slow  # trains the paper's methods twice
def test_shuffled_target_labels_change_no_model_and_no_choice(tmp_path):
    shared = ("anger", "fear", "happiness", "neutral", "sadness")
    caches = [tmp_path / "true", tmp_path / "shuffled"]
    for c, perm in zip(caches, (None, shared)):
        write_features(c, "demo_a", seed=1)
        write_features(c, "demo_b", seed=2, permute_labels=perm)
    plans = [plan_mod.plan_benchmark(c, DEMO[:1], seeds=[0], preset="tiny", epochs=1) for c in caches]
    for plan in plans:
        assert not execute.run_benchmark(plan, jobs=1).failures
    pairs = [np.load(pair_dir(c, "demo_a__demo_b", "IS10") / "pair.npz") for c in caches]
    assert np.array_equal(pairs[0]["Xt"], pairs[1]["Xt"]) and not np.array_equal(pairs[0]["yt"], pairs[1]["yt"])
    assert set(plans[0].methods) == set(PAPER_METHODS)
    for spec in plans[0].runs:
        a, b = (p.run_dir(spec) for p in plans)
        preds = [[r["predicted"] for r in csv.DictReader(open(d / "predictions.csv"))] for d in (a, b)]
        assert preds[0] == preds[1], spec
        if spec.method == "pca_svm":
            ests = [pickle.loads((d / "model.pkl").read_bytes()) for d in (a, b)]
            assert ests[0].best_params_ == ests[1].best_params_
            assert np.array_equal(ests[0].model_[-1].coef_, ests[1].model_[-1].coef_)
        else:
            sds = [torch.load(d / "model.pt", weights_only=True)["state_dict"] for d in (a, b)]
            assert sds[0].keys() == sds[1].keys()
            assert all(torch.equal(sds[0][k], sds[1][k]) for k in sds[0]), spec


# ------------------------------------------------------------------------------------ failures, parallel


def test_a_failing_run_is_reported_and_marked(cache, monkeypatch):
    real = execute.train_run

    def flaky(cache_, pair, method, *a, **kw):
        if method.name == "only_cls" and a[2] == 1:
            raise RuntimeError("boom")
        return real(cache_, pair, method, *a, **kw)

    monkeypatch.setattr(execute, "train_run", flaky)
    plan = plan_mod.plan_benchmark(cache, DEMO[:1], methods=["only_cls", "pca_svm"], seeds=[0, 1], preset="tiny")
    out = execute.run_benchmark(plan, jobs=1)
    assert list(out.failures) == [plan_mod.RunSpec(PairKey("demo_a", "demo_b"), "only_cls", 1)]
    rows = collect.collect_results(plan, out)
    bad = [r for r in rows if r["status"] == "failed"]
    assert len(bad) == 1 and "RuntimeError: boom" in bad[0]["error"] and bad[0]["war"] is None
    agg = aggregate(rows, "war", ["demo_a→demo_b"], ["only_cls"], [0, 1])["only_cls"]["demo_a→demo_b"]
    assert agg.n == 1 and agg.failed == 1
    path = plan.cache / "r.csv"
    collect.write_results_csv(path, rows)
    written = list(csv.DictReader(open(path)))
    assert len(written) == 4 and written[0].keys() >= {"scheme", "source", "target", "method", "preset", "seed",
                                                        "war", "uar", "run_dir"}


@pytest.mark.slow  # worker processes start (spawn)
def test_parallel_workers_train_and_report_failures(cache):
    plan = plan_mod.plan_benchmark(cache, DEMO, methods=["only_cls", "pca_svm"], seeds=[0], preset="tiny")
    # Break one scheme's pair after planning: its runs fail inside the workers.
    (pair_dir(cache, "demo_b__demo_a", "IS10") / "pair.npz").write_bytes(b"garbage")
    events = []

    class Rec(execute.Reporter):
        def start(self, total, reused, todo, jobs, threads):
            events.append(("start", total, jobs, threads))

        def run_finished(self, spec, result):
            events.append((spec.scheme, result["status"]))

    out = execute.run_benchmark(plan, jobs=2, reporter=Rec(), cores=2)
    assert events[0] == ("start", 4, 2, 1) and len(events) == 5
    assert (out.jobs, out.threads) == (2, 1)
    assert {s.scheme for s in out.failures} == {"demo_b→demo_a"}
    assert all("does not match" in r["error"] for r in out.failures.values())
    rows = collect.collect_results(plan, out)
    assert [r["status"] for r in rows] == ["trained", "trained", "failed", "failed"]


# ------------------------------------------------------------------------------------------------- CLI


@pytest.mark.slow  # trains 4 runs
def test_cli_benchmark_writes_results_and_tables(cache):
    from sercross.cli import app

    runner = CliRunner()
    args = ["--cache", str(cache), "benchmark", "--schemes", "demo_a:demo_b,casia:demo_a", "--methods",
            "only_cls,pca_svm", "--seeds", "2", "--preset", "tiny", "--jobs", "1", "--name", "t"]
    r = runner.invoke(app, args)
    assert r.exit_code == 0, r.output
    assert "skipped casia→demo_a" in r.output and "WAR" in r.output and "UAR" in r.output
    bdir = cache / "benchmarks" / "t"
    results = list(csv.DictReader(open(bdir / "results.csv")))
    assert len(results) == 4 and {r["status"] for r in results} == {"trained"}
    doc = json.loads((bdir / "tables.json").read_text())
    assert doc["tables"]["war"]["table4"]["methods"] == ["pca_svm", "only_cls"]
    assert "sample" in doc["std"] and (bdir / "tables.md").is_file() and (bdir / "tables.csv").is_file()
    r = runner.invoke(app, args)
    assert r.exit_code == 0 and "0 trained, 4 reused" in r.output

    r = runner.invoke(app, ["--cache", str(cache), "benchmark", "--schemes", "C:B", "--preset", "tiny"])
    assert r.exit_code == 2 and "nothing to run" in r.output
    r = runner.invoke(app, ["--cache", str(cache), "benchmark", "--seeds", "x"])
    assert r.exit_code == 2 and "cannot read seeds" in r.output


def test_a_config_field_added_later_counts_with_its_default(cache):
    plan = plan_mod.plan_benchmark(cache, DEMO[:1], methods=["only_cls"], seeds=[0], preset="tiny")
    execute.run_benchmark(plan, jobs=1)
    cfg_path = plan.run_dir(plan.runs[0]) / "config.json"
    doc = json.loads(cfg_path.read_text())
    del doc["train"]["lr_schedule"]  # a run written before the field existed
    cfg_path.write_text(json.dumps(doc))
    assert plan_mod.plan_benchmark(cache, DEMO[:1], methods=["only_cls"], seeds=[0], preset="tiny").todo == []
    doc["train"]["bn_mode"] = "joint"  # but a stored value that differs still counts
    cfg_path.write_text(json.dumps(doc))
    assert plan_mod.plan_benchmark(cache, DEMO[:1], methods=["only_cls"], seeds=[0], preset="tiny").todo == plan.runs


def test_a_method_with_its_own_settings_is_reused_too(cache):
    plan = plan_mod.plan_benchmark(cache, DEMO[:1], methods=["dann"], seeds=[0], preset="tiny")
    execute.run_benchmark(plan, jobs=1)
    assert plan_mod.plan_benchmark(cache, DEMO[:1], methods=["dann"], seeds=[0], preset="tiny").todo == []


def test_a_run_of_a_method_defined_differently_is_not_reused(cache):
    plan = plan_mod.plan_benchmark(cache, DEMO[:1], methods=["only_cls"], seeds=[0], preset="tiny")
    execute.run_benchmark(plan, jobs=1)
    cfg_path = plan.run_dir(plan.runs[0]) / "config.json"
    doc = json.loads(cfg_path.read_text())
    assert doc["method_spec"] == METHODS["only_cls"].fingerprint
    doc["method_spec"]["weighting"] = "dynamic"  # as if only_cls had been defined with other weights
    cfg_path.write_text(json.dumps(doc))
    again = plan_mod.plan_benchmark(cache, DEMO[:1], methods=["only_cls"], seeds=[0], preset="tiny")
    assert again.todo == plan.runs and "definition changed" in next(iter(again.stale.values()))
