"""Several source corpora: the union keeps every utterance's corpus and speaker; leave-one-corpus-out grids."""

import json

import numpy as np
import pytest

import sercross.experiments.execute as execute
import sercross.experiments.plan as plan_mod
from sercross import CACHE_VERSION
from sercross.corpora.manifests import Utterance
from sercross.experiments.pairs import build_pair, load_pair, minmax_scale, save_pair
from sercross.experiments.runs import train_run
from sercross.experiments.sources import join_sources, loco_schemes, split_sources
from sercross.features import FeatureTable, write_derived_table
from sercross.infra.errors import SercrossError
from sercross.methods import METHODS, get_preset
from sercross.methods.config import PRESETS, TrainConfig

CFG = get_preset("demo", epochs=1, encoder_sizes=(24, 16, 8), dnn_sizes=(12, 6), threads=1)
EMOTIONS = {
    "synth_a": ("anger", "sadness", "fear", "boredom"),
    "synth_b": ("anger", "sadness", "fear", "surprise"),
    "synth_c": ("anger", "sadness", "fear", "surprise", "calm"),
    "synth_d": ("anger", "sadness", "fear", "happiness"),
}


def table(corpus, rng, speakers=2, per=3, dim=8, shift=0.0):
    utts, rows = [], []
    for s in range(speakers):
        for k, e in enumerate(EMOTIONS[corpus]):
            for i in range(per):
                # the same speaker ids and file names in every corpus: only the corpus tells them apart
                utts.append(Utterance(f"{s}/{e}{i}.wav", f"spk{s}", e, e))
                rows.append(rng.normal(k + shift, 1.0, dim))
    return FeatureTable(corpus, "IS10", np.asarray(rows, np.float32), utts, [f"f{i}" for i in range(dim)],
                        {"fingerprint": corpus, "cache_version": CACHE_VERSION, "feature_set": "IS10",
                         "n_features": dim, "columns": [f"f{i}" for i in range(dim)]})


def test_names_of_unions_and_loco():
    assert split_sources("casia+berlin") == ("casia", "berlin") and join_sources(["casia", "berlin"]) == "berlin+casia"
    assert loco_schemes(["a", "b", "c"]) == [("b+c", "a"), ("a+c", "b"), ("a+b", "c")]
    with pytest.raises(SercrossError, match="at least three"):
        loco_schemes(["a", "b"])
    with pytest.raises(SercrossError, match="twice"):
        split_sources("a+a")


def test_a_union_keeps_every_utterances_corpus_and_speaker(rng, tmp_path):
    a, b, c = (table(n, rng, shift=i) for i, n in enumerate(("synth_a", "synth_b", "synth_c")))
    d = table("synth_d", rng, shift=3.0)
    p = build_pair([b, a, c], d)  # order given does not matter: sources are sorted
    assert p.source == "synth_a+synth_b+synth_c" and p.name == "synth_a+synth_b+synth_c→synth_d"
    assert p.classes == ("anger", "fear", "sadness")  # shared by the target and every source
    expected = [(t.corpus, f"{t.corpus}/{u.speaker}", u.file, u.emotion)
                for t in (a, b, c) for u in t.utterances if u.emotion in p.classes]
    got = [(c_, s, f, p.classes[y]) for c_, s, f, y in zip(p.source_corpora, p.source_speakers, p.source_files, p.ys)]
    assert got == expected
    # each source scaled on its own utterances, then stacked
    start = 0
    for t in (a, b, c):
        rows = [i for i, u in enumerate(t.utterances) if u.emotion in p.classes]
        assert np.array_equal(p.Xs[start:start + len(rows)], minmax_scale(t.X[rows]))
        start += len(rows)
    assert p.meta["sources"] == ["synth_a", "synth_b", "synth_c"]
    assert p.meta["source_features"] == {"synth_a": "synth_a", "synth_b": "synth_b", "synth_c": "synth_c"}
    save_pair(tmp_path, p)
    q = load_pair(tmp_path, p.source, "synth_d", "IS10")
    assert q.source_corpora == p.source_corpora and q.source_speakers == p.source_speakers
    assert (tmp_path / "pairs" / "synth_a+synth_b+synth_c__synth_d").is_dir()


def test_a_single_source_pair_is_unchanged(rng):
    a, d = table("synth_a", rng), table("synth_d", rng)
    one, listed = build_pair(a, d), build_pair([a], d)
    assert one.source_corpora is None and one.source_speakers[0] == "spk0"
    assert np.array_equal(one.Xs, listed.Xs) and one.meta == listed.meta and "sources" not in one.meta


def test_the_target_cannot_be_a_source(rng):
    a, d = table("synth_a", rng), table("synth_d", rng)
    with pytest.raises(SercrossError, match="same corpus"):
        build_pair([a, d], d)


QUICK = ("only_cls", "tlmlda_plus", "sk_coral_spk")


@pytest.mark.parametrize("method", [m if m in QUICK else pytest.param(m, marks=pytest.mark.slow)
                                    for m, spec in METHODS.items() if spec.kind != "auto"])
def test_every_method_trains_on_a_union(method, rng, tmp_path):
    p = build_pair([table("synth_a", rng), table("synth_b", rng, shift=1.0)], table("synth_d", rng, shift=2.0))
    out = train_run(tmp_path, p, method, "demo", CFG, seed=0)
    assert out.parent.parent.name == "synth_a+synth_b__synth_d"
    m = json.loads((out / "metrics.json").read_text())
    assert m["scheme"] == "synth_a+synth_b→synth_d" and np.isfinite(m["war"])


@pytest.mark.slow  # trains six runs
def test_leave_one_corpus_out_grid(rng, tmp_path, monkeypatch):
    monkeypatch.setitem(PRESETS, "tiny", TrainConfig(epochs=1, batch_size=8, encoder_sizes=(16, 12, 8),
                                                     dnn_sizes=(8, 6), threads=1))
    cache = tmp_path / "cache"
    for name in ("synth_a", "synth_b", "synth_d"):
        t = table(name, rng)
        write_derived_table(cache, name, t, range(len(t.X)), {"test": True})
    schemes = loco_schemes(["synth_a", "synth_b", "synth_d"])
    plan = plan_mod.plan_benchmark(cache, schemes, methods=["only_cls", "pca_svm"], seeds=[0], preset="tiny")
    assert not plan.skipped and [i.name for i in plan.schemes] == [
        "synth_b+synth_d→synth_a", "synth_a+synth_d→synth_b", "synth_a+synth_b→synth_d"]
    assert all(i.classes == ("anger", "fear", "sadness") for i in plan.schemes)
    assert not execute.run_benchmark(plan, jobs=1).failures
    again = plan_mod.plan_benchmark(cache, schemes, methods=["only_cls", "pca_svm"], seeds=[0], preset="tiny")
    assert not again.todo


def test_cli_trains_and_evaluates_several_sources_with_the_whole_target(rng, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from sercross.cli import app

    monkeypatch.setitem(PRESETS, "tiny", TrainConfig(epochs=1, batch_size=8, encoder_sizes=(16, 12, 8),
                                                     dnn_sizes=(8, 6), threads=1))
    cache = tmp_path / "cache"
    for name, like in (("berlin", "synth_a"), ("casia", "synth_b"), ("ravdess", "synth_c")):
        t = table(like, rng)
        write_derived_table(cache, name, t, range(len(t.X)), {"test": True})
    common = ["--method", "only_cls", "--preset", "tiny", "--target-set", "all"]
    res = CliRunner().invoke(app, ["--cache", str(cache), "train", "--source", "casia+berlin", "--target", "ravdess",
                                   *common])
    assert res.exit_code == 0, res.output
    assert "every source share" in res.output and "all 30 target utterances" in res.output
    rdir = cache / "runs" / "berlin+casia__ravdess@all" / "only_cls" / "tiny-seed0"
    assert (rdir / "metrics.json").is_file()
    res = CliRunner().invoke(app, ["--cache", str(cache), "evaluate", "--source", "berlin+casia", "--target",
                                   "ravdess", *common])
    assert res.exit_code == 0, res.output
    assert json.loads((rdir / "metrics.json").read_text())["n"] == 18  # anger, sadness, fear: 2 speakers × 3 × 3


def test_experiment_files_take_target_sets_several_sources_and_loco(rng, tmp_path):
    """target_set and a+b sources in an experiment file compose with class sets: one pair (and run folder) each."""
    from sercross.experiments.experiment_file import experiment_from_doc
    from sercross.infra import toml_loads

    cache = tmp_path / "cache"
    for name in ("synth_a", "synth_b", "synth_d"):
        t = table(name, rng)
        write_derived_table(cache, name, t, range(len(t.X)), {"test": True})
    doc = {"name": "study", "corpora": ["synth_a", "synth_b", "synth_d"], "schemes": "loco",
           "target_set": ["shared", "all"], "classes": ["default", ["anger", "fear"]], "methods": ["only_cls"],
           "seeds": 1}
    exp = experiment_from_doc(doc)
    assert exp.target_sets == ("shared", "all") and exp.scheme_list() == loco_schemes(["synth_a", "synth_b", "synth_d"])
    resolved = toml_loads(exp.to_toml())  # the resolved file lists the schemes and keeps the target sets
    assert resolved["target_set"] == ["shared", "all"] and "synth_b+synth_d:synth_a" in resolved["schemes"]
    assert experiment_from_doc(resolved).scheme_list() == exp.scheme_list()
    plan = plan_mod.plan_grid(cache, exp.recipes(), exp.scheme_list(), False, exp.seeds, exp.class_sets,
                              exp.features, target_sets=exp.target_sets)
    assert not plan.skipped, plan.skipped
    dirs = sorted(plan.run_dir(r).parent.parent.name for r in plan.runs)
    assert len(dirs) == len(set(dirs)) == 12  # 3 schemes × 2 class sets × 2 target sets
    assert "synth_a+synth_b__synth_d@all" in dirs and "synth_a+synth_b__synth_d~anger+fear@all" in dirs
    assert "synth_a+synth_b__synth_d" in dirs and "synth_a+synth_b__synth_d~anger+fear" in dirs
    one = experiment_from_doc({"name": "one", "schemes": ["synth_b+synth_a:synth_d"], "target_set": "all"})
    assert one.scheme_list() == [("synth_b+synth_a", "synth_d")] and one.target_sets == ("all",)
    assert "target_set" not in toml_loads(experiment_from_doc({"name": "plain"}).to_toml())  # files as before
    with pytest.raises(SercrossError, match="unknown target set 'al'"):
        experiment_from_doc({"name": "bad", "target_set": "al"})
    with pytest.raises(SercrossError, match="at least three"):
        experiment_from_doc({"name": "bad", "corpora": ["synth_a", "synth_b"], "schemes": "loco"})
