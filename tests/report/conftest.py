"""Tiny real runs shared by the report tests: demo_a → demo_b, trained for two epochs."""

import csv
import json
import shutil

import pytest

from sercross.corpora.demo import DemoConfig, synthesize_corpora
from sercross.corpora.manifests import load_manifest
from sercross.experiments.resolve import pair_for
from sercross.experiments.runs import train_run
from sercross.features import extract_corpus, load_features
from sercross.methods.config import get_preset


@pytest.fixture(scope="session")
def demo(tmp_path_factory):
    """demo_a → demo_b (20 + 20 utterances), 2-epoch runs of only_cls, tlmlda_m, tlmlda (seed 0) and pca_svm
    (seeds 0 and 1). About 15 s: the tests that use it are marked slow."""
    tmp = tmp_path_factory.mktemp("report")
    roots = synthesize_corpora(tmp / "corpora", DemoConfig(speakers=2, utterances=2))
    cache = tmp / "cache"
    tables = []
    for name, root in roots.items():
        extract_corpus(load_manifest(name), root, cache, jobs=1)
        tables.append(load_features(cache, name, "IS10"))
    pair = pair_for(cache, tables[0], tables[1])
    cfg = get_preset("demo", epochs=2, threads=1)
    runs = {m: train_run(cache, pair, m, "demo", cfg, 0) for m in ("only_cls", "tlmlda_m", "tlmlda", "pca_svm")}
    runs["pca_svm_1"] = train_run(cache, pair, "pca_svm", "demo", cfg, 1)
    return cache, pair, runs


@pytest.fixture
def tiny_benchmark(demo):
    """A benchmark 'tiny' whose results.csv lists pca_svm's two seeds (once by absolute, once by relative path,
    once again), a run that did not finish, and a run trained again since (its WAR differs)."""
    cache, _, runs = demo
    bdir = cache / "benchmarks" / "tiny"
    bdir.mkdir(parents=True, exist_ok=True)
    with open(bdir / "results.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["scheme", "source", "target", "method", "preset", "seed", "war", "uar", "run_dir"])
        war0, war1 = (json.loads((runs[k] / "metrics.json").read_text())["war"] for k in ("pca_svm", "pca_svm_1"))
        w.writerow(["x", "demo_a", "demo_b", "pca_svm", "demo", 0, war0, 0, str(runs["pca_svm"])])
        w.writerow(["x", "demo_a", "demo_b", "pca_svm", "demo", 1, war1, 0, str(runs["pca_svm_1"].relative_to(cache))])
        w.writerow(["x", "demo_a", "demo_b", "pca_svm", "demo", 1, war1, 0, str(runs["pca_svm_1"])])  # duplicate
        w.writerow(["x", "demo_a", "demo_b", "tlmlda", "demo", 5, "", "", ""])  # a run that did not finish
        # a folder trained again after the benchmark listed it: its numbers are no longer the benchmark's
        w.writerow(["x", "demo_a", "demo_b", "tlmlda", "demo", 0, 0.0123, 0, str(runs["tlmlda"])])
    yield "tiny"
    shutil.rmtree(bdir)
