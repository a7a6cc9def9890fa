"""In-corpus references: speaker-independent folds, scaling on the training folds only, stored like a run."""

import json

import numpy as np
import pytest

from sercross.corpora.manifests import Utterance
from sercross.experiments.incorpus import (
    K_FOLDS,
    incorpus_dir,
    run_incorpus,
    scale_by_train,
    speaker_folds,
)
from sercross.features import FeatureTable
from sercross.infra.errors import SercrossError
from sercross.methods import get_preset

CFG = get_preset("demo", epochs=2, encoder_sizes=(24, 16, 8), dnn_sizes=(12, 6), threads=1)


def table(n_speakers, emotions=("anger", "sadness", "fear", "calm"), per=2, dim=8, seed=0, uneven=False):
    rng = np.random.default_rng(seed)
    utts, rows = [], []
    for s in range(n_speakers):
        for k, e in enumerate(emotions):
            for i in range(per + (s % 3 if uneven else 0)):
                utts.append(Utterance(f"c/{s}/{e}{i}.wav", f"spk{s:02d}", e, e))
                rows.append(rng.normal(k, 1.0, dim))
    return FeatureTable("corp", "IS10", np.asarray(rows, np.float32), utts, [f"f{i}" for i in range(dim)],
                        {"fingerprint": f"corp{seed}"})


@pytest.mark.parametrize("n_speakers", [2, 4, 10, 11, 24])
def test_no_speaker_is_on_both_sides_of_any_fold(n_speakers):
    t = table(n_speakers, uneven=True)
    speakers = np.array([u.speaker for u in t.utterances])
    folds = speaker_folds(speakers)
    assert len(folds) == (n_speakers if n_speakers <= 10 else K_FOLDS)
    held = np.concatenate(folds)
    assert sorted(held.tolist()) == list(range(len(speakers)))  # every utterance held out exactly once
    for test in folds:
        train = np.setdiff1d(np.arange(len(speakers)), test)
        assert not set(speakers[test]) & set(speakers[train])


def test_folds_need_two_speakers():
    with pytest.raises(SercrossError, match="at least two speakers"):
        speaker_folds(["a"] * 5)


def test_scaling_uses_the_training_rows_only():
    tr = np.array([[0.0, 1.0], [2.0, 1.0]])
    te = np.array([[4.0, 3.0]])
    a, b = scale_by_train(tr, te)
    assert np.allclose(a, [[0, 0], [1, 0]]) and np.allclose(b, [[2.0, 0.0]])


@pytest.mark.parametrize("method", ["only_cls", "pca_svm"])
def test_reference_is_stored_like_a_run_and_reused(method, tmp_path):
    t = table(4)
    classes = ("anger", "sadness", "fear")
    out = run_incorpus(tmp_path, t, classes, method, "demo", CFG, seed=0)
    assert out == incorpus_dir(tmp_path, t, classes, method, "demo", 0)
    assert out.parent.parent.name == "corp__corp~anger+fear+sadness"
    m = json.loads((out / "metrics.json").read_text())
    assert m["scheme"] == "corp→corp (in-corpus)" and m["folds_protocol"] == "leave-one-speaker-out"
    assert len(m["per_fold"]) == 4 and m["war"] == pytest.approx(np.mean([f["war"] for f in m["per_fold"]]))
    assert all(f["test_speakers"] == [f"spk{k:02d}"] for k, f in enumerate(m["per_fold"]))
    assert m["n"] == 4 * 3 * 2 and "calm" not in m["classes"]
    cfg = json.loads((out / "config.json").read_text())
    before = (out / "config.json").stat().st_mtime_ns
    assert run_incorpus(tmp_path, t, classes, method, "demo", CFG, seed=0) == out
    assert (out / "config.json").stat().st_mtime_ns == before  # reused, not computed again
    # deterministic: the same reference computed again from scratch has the same models
    again = run_incorpus(tmp_path / "2", t, classes, method, "demo", CFG, seed=0)
    assert json.loads((again / "config.json").read_text())["fold_model_sha1"] == cfg["fold_model_sha1"]


def test_a_method_the_seed_does_not_change_has_one_reference_for_every_seed(tmp_path):
    t = table(4)
    classes = ("anger", "sadness", "fear")
    first = run_incorpus(tmp_path, t, classes, "pca_svm", "demo", CFG, seed=0)
    before = (first / "config.json").stat().st_mtime_ns
    assert run_incorpus(tmp_path, t, classes, "pca_svm", "demo", CFG, seed=3) == first  # as its cross-corpus runs
    assert (first / "config.json").stat().st_mtime_ns == before
    net = run_incorpus(tmp_path, t, classes, "only_cls", "demo", CFG, seed=3)
    assert net.name == "demo-seed3"  # a seeded method: a reference of its own per seed


def test_the_class_set_not_its_order_makes_a_reference(tmp_path):
    t = table(4)
    first = run_incorpus(tmp_path, t, ("sadness", "anger", "fear"), "only_cls", "demo", CFG, seed=0)
    before = (first / "config.json").stat().st_mtime_ns
    assert run_incorpus(tmp_path, t, ("anger", "fear", "sadness"), "only_cls", "demo", CFG, seed=0) == first
    assert (first / "config.json").stat().st_mtime_ns == before  # reused, not computed again in another order
    assert json.loads((first / "metrics.json").read_text())["classes"] == ["anger", "fear", "sadness"]


def test_held_out_speakers_do_not_reach_training(tmp_path):
    """Changing the held-out speaker's features changes no fold model but that speaker's own fold's predictions."""
    t = table(3)
    a = run_incorpus(tmp_path / "a", t, ("anger", "sadness"), "only_cls", "demo", CFG, seed=0)
    rows = [i for i, u in enumerate(t.utterances) if u.speaker == "spk00"]
    t.X[rows] += 5.0  # only fold 0 holds them out; every other fold trains on them
    b = run_incorpus(tmp_path / "b", t, ("anger", "sadness"), "only_cls", "demo", CFG, seed=0)
    sa, sb = (json.loads((d / "config.json").read_text())["fold_model_sha1"] for d in (a, b))
    assert sa[0] == sb[0] and sa[1:] != sb[1:]


def test_only_label_only_methods_have_references(tmp_path):
    with pytest.raises(SercrossError, match="no in-corpus reference"):
        run_incorpus(tmp_path, table(3), ("anger", "sadness"), "tlmlda", "demo", CFG, seed=0)


@pytest.mark.slow  # a benchmark and two references through the CLI
def test_benchmark_shows_the_ceiling_and_the_gap(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from sercross import CACHE_VERSION
    from sercross.cli import app
    from sercross.features import write_derived_table
    from sercross.methods.config import PRESETS, TrainConfig

    monkeypatch.setitem(PRESETS, "tiny", TrainConfig(epochs=1, batch_size=8, encoder_sizes=(16, 12, 8),
                                                     dnn_sizes=(8, 6), threads=1))
    cache = tmp_path / "cache"
    for name, seed in (("synth_src", 1), ("synth_tgt", 2)):
        t = table(3, per=3, seed=seed)
        t.corpus = name
        t.meta.update(cache_version=CACHE_VERSION, feature_set="IS10", n_features=8, columns=t.columns)
        write_derived_table(cache, name, t, range(len(t.X)), {"test": True})
    res = CliRunner().invoke(app, ["--cache", str(cache), "benchmark", "--schemes", "synth_src:synth_tgt",
                                   "--methods", "only_cls", "--seeds", "1", "--preset", "tiny", "--in-corpus",
                                   "--jobs", "1", "--name", "b"])
    assert res.exit_code == 0, res.output
    stored = cache / "benchmarks" / "b" / "experiment.toml"
    assert "in_corpus = true" in stored.read_text()  # stored with the experiment: it runs again as is
    (cache / "benchmarks" / "b" / "in_corpus.csv").unlink()
    again = CliRunner().invoke(app, ["--cache", str(cache), "run", str(stored), "--jobs", "1"])
    assert again.exit_code == 0 and (cache / "benchmarks" / "b" / "in_corpus.csv").is_file(), again.output
    doc = json.loads((cache / "benchmarks" / "b" / "tables.json").read_text())
    ref = doc["in_corpus"]
    scheme = "synth_src→synth_tgt"
    ceiling = {m: ref["cells"]["war"][m][scheme]["mean"] for m in ("only_cls", "pca_svm")}
    assert all(v is not None for v in ceiling.values())
    cross = doc["tables"]["war"]["table4"]["cells"]["only_cls"][scheme]["mean"]
    assert ref["gap"]["war"]["only_cls"][scheme] == pytest.approx(cross - max(ceiling.values()), abs=1e-5)
    assert ref["folds"] == {"synth_tgt": "leave-one-speaker-out"}
    md = (cache / "benchmarks" / "b" / "tables.md").read_text()
    assert "In-corpus ceiling" in md and "pca_svm (in-corpus)" in md
    assert (cache / "runs" / "synth_tgt__synth_tgt~anger+calm+fear+sadness").is_dir() is False
    assert (cache / "runs" / "synth_tgt__synth_tgt").is_dir()  # the scheme's classes: all of the target's


def test_evaluate_on_a_reference_folder_shows_its_folds(tmp_path):
    from typer.testing import CliRunner

    from sercross.cli import app

    out = run_incorpus(tmp_path, table(4), ("anger", "sadness", "fear"), "only_cls", "demo", CFG, seed=0)
    m = json.loads((out / "metrics.json").read_text())
    r = CliRunner().invoke(app, ["--cache", str(tmp_path), "evaluate", str(out)], env={"COLUMNS": "200"})
    assert r.exit_code == 0, r.output
    assert "corp→corp (in-corpus)" in r.output and "leave-one-speaker-out" in r.output
    assert f"{100 * m['war']:.2f}" in r.output and "mean over folds" in r.output
